package aws

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"

	"github.com/cutover-dev/cutover"
)

// errorCode returns the AWS error code of err ("" if it has none).
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// classified adds the cutover sentinel a caller branches on to an AWS error
// that survived the SDK's retries: overload and missing infrastructure are
// ErrUnavailable (the latter with the fix in the message).
func classified(err error) error {
	switch errorCode(err) {
	case "ResourceNotFoundException", "NoSuchBucket":
		return fmt.Errorf("%w (has `cutover init` created it?): %w", cutover.ErrUnavailable, err)
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestThrottled", "RequestLimitExceeded",
		"SlowDown", "ServiceUnavailable", "InternalServerError", "InternalFailure", "InternalError":
		return fmt.Errorf("%w: %w", cutover.ErrUnavailable, err)
	}
	return err
}

// queueMissing reports whether err says an SQS queue does not exist.
func queueMissing(err error) bool {
	switch errorCode(err) {
	case "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue":
		return true
	}
	return false
}

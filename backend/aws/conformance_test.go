package aws

import (
	"testing"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/backend/backendtest"
)

// TestConformance runs the suite every backend passes against SQS, DynamoDB
// and S3 as the local servers speak them.
func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) cutover.Stores {
		return openTest(t, testConfig(t), testOptions()).Stores()
	})
}

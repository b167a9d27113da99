package admin

import "fmt"

// Role is what a token may do, or what a route requires.
type Role string

const (
	// RoleViewer reads flags, history, metrics and reports.
	RoleViewer Role = "viewer"
	// RoleOperator also changes flags and rolls back.
	RoleOperator Role = "operator"
	// RolePublic marks a mounted route that needs no token (e.g. /metrics
	// on a private network). It is never a token's role.
	RolePublic Role = "public"
)

// allows reports whether a token with role r may use a route requiring need.
func (r Role) allows(need Role) bool {
	switch need {
	case RolePublic:
		return true
	case RoleViewer:
		return r == RoleViewer || r == RoleOperator
	case RoleOperator:
		return r == RoleOperator
	}
	return false
}

func parseTokenRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleViewer, RoleOperator:
		return r, nil
	case "":
		return "", fmt.Errorf("role is required (want viewer or operator)")
	}
	return "", fmt.Errorf("role %q is unknown (want viewer or operator)", s)
}

// Package e2e holds end-to-end tests that need a whole Windflow (API,
// workers, a private Docker engine, PostgreSQL and Temporal) and run long
// enough to be worth a package of their own: go test runs packages side by
// side, so these do not add to the api package's time. See alerts_test.go.
package e2e

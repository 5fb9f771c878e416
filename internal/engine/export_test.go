package engine

// ReadStats exposes readStats to the integration tests (package engine_test),
// which cannot live in package engine because enginetest imports engine.
var ReadStats = readStats

//go:build tools

// Keeps `go mod tidy` from dropping the kwok module: the lab builds
// `go build sigs.k8s.io/kwok/cmd/kwok`.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"

//go:build tools

// Keeps `go mod tidy` from dropping the etcd server module: the lab builds
// `go build go.etcd.io/etcd/server/v3` (its main package is the etcd binary).
package tools

import _ "go.etcd.io/etcd/server/v3"

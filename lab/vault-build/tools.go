//go:build tools

// Keeps `go mod tidy` from dropping the Vault module: its main package is built
// with `go build github.com/hashicorp/vault`.
package tools

import _ "github.com/hashicorp/vault"

//go:build tools

// Keeps `go mod tidy` from dropping the Helm module: the lab builds
// `go build helm.sh/helm/v3/cmd/helm`.
package tools

import _ "helm.sh/helm/v3/cmd/helm"

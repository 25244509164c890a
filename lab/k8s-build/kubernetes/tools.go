//go:build tools

// Keeps `go mod tidy` from dropping what the lab builds from k8s.io/kubernetes:
// `go build k8s.io/kubernetes/cmd/kube-apiserver` and `k8s.io/kubernetes/cmd/kubectl`.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)

//go:build tools

// Package tools pins istioctl for `go mod tidy`.
package tools

import _ "istio.io/istio/istioctl/cmd/istioctl"

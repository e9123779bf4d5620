//go:build tools

// Package tools pins the Kubernetes provider plugin for `go mod tidy`.
package tools

import _ "github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes"

//go:build tools

// Pins the kwok command build.sh builds (a main package: never compiled from here).
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"

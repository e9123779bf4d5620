// Command etcd is the upstream etcd server built from the pinned go.etcd.io/etcd/server/v3
// (the etcd root module that holds upstream's main is not published for recent 3.5 patches).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

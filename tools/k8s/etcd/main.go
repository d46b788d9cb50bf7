// Command etcd runs the etcd server release pinned in go.mod: the storage of the
// kube-apiserver that make k8s-check starts.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

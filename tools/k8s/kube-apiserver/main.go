// Command kube-apiserver runs the API server of the Kubernetes release pinned in
// go.mod. make k8s-check starts it on loopback against a local etcd to install
// the chart into a real API (admission, defaulting, validation, CRDs) without
// nodes, controllers or a container registry.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}

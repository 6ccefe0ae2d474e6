// Command vcsim serves govmomi's vCenter simulator (a VPX model) for aicmp's vSphere connector
// tests. Debian packages the govmomi simulator library (golang-github-vmware-govmomi-dev) but not
// its vcsim command, so deploy/lib.sh (aicmp_ensure_vcsim) builds this file offline in GOPATH mode.
//
// It prints one line, "READY <url>", once the SDK endpoint accepts connections, and serves until
// SIGINT or SIGTERM. The URL carries no credentials; -username and -password set the only login.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "host:port to serve on (port 0: a free one)")
	username := flag.String("username", "user", "the one user name the simulator accepts")
	password := flag.String("password", "pass", "that user's password")
	plain := flag.Bool("plain", false, "serve plain HTTP instead of HTTPS (self-signed)")
	clusters := flag.Int("cluster", 1, "clusters in the datacenter")
	clusterHosts := flag.Int("cluster-host", 3, "hosts in each cluster")
	machines := flag.Int("vm", 2, "virtual machines per host and per cluster resource pool")
	clusterGPUs := flag.Int("cluster-gpus", 0, "NVIDIA GPUs (PCI devices) added to each clustered host")
	gpuName := flag.String("gpu-name", "NVIDIA A100-SXM4-80GB", "the device name of those GPUs")
	flag.Parse()

	model := simulator.VPX()
	model.Cluster = *clusters
	model.ClusterHost = *clusterHosts
	model.Machine = *machines
	defer model.Remove()
	if err := model.Create(); err != nil {
		log.Fatalf("vcsim: creating the model: %v", err)
	}

	addGPUs(*clusterGPUs, *gpuName)

	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*username, *password)}
	if !*plain {
		model.Service.TLS = new(tls.Config) // httptest's self-signed localhost certificate
	}
	server := model.Service.NewServer()
	defer server.Close()

	u := *server.URL
	u.User = nil
	fmt.Printf("READY %s\n", u.String())
	_ = os.Stdout.Sync()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}

// addGPUs gives every host in a cluster n NVIDIA PCI devices (display class 0x0302, "3D
// controller"), as vSphere lists a host's passthrough GPUs in hardware.pciDevice. The simulator's
// hosts share one hardware description, so each clustered host gets its own copy first.
func addGPUs(n int, name string) {
	if n <= 0 {
		return
	}
	for _, e := range simulator.Map.All("HostSystem") {
		host, ok := e.(*simulator.HostSystem)
		if !ok || host.Parent == nil || host.Parent.Type != "ClusterComputeResource" || host.Hardware == nil {
			continue
		}
		hardware := *host.Hardware
		hardware.PciDevice = append([]types.HostPciDevice(nil), hardware.PciDevice...)
		for i := 0; i < n; i++ {
			hardware.PciDevice = append(hardware.PciDevice, types.HostPciDevice{
				Id: fmt.Sprintf("0000:%02x:00.0", 0x80+i), ClassId: 0x0302, Bus: byte(0x80 + i),
				VendorId: 0x10de, DeviceId: 0x20b2, VendorName: "NVIDIA Corporation", DeviceName: name,
				SubVendorId: 0x10de, SubDeviceId: 0x1463,
			})
		}
		host.Hardware = &hardware
	}
}

package main

import (
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

func testConfig(t *testing.T, w1, w2 uint32) meshConfig {
	t.Helper()
	v1, err := parseSocketAddress("127.0.0.1:9001")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := parseSocketAddress("[::1]:9002")
	if err != nil {
		t.Fatal(err)
	}
	return meshConfig{target: "order-service:80", v1: v1, v2: v2, w1: w1, w2: w2}
}

func TestSnapshotIsValid(t *testing.T) {
	for _, w := range [][2]uint32{{80, 20}, {0, 100}, {100, 0}} {
		snap, err := buildSnapshot("7", testConfig(t, w[0], w[1]))
		if err != nil {
			t.Fatalf("weights %v: %v", w, err)
		}
		for _, typ := range []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType, resourcev3.EndpointType} {
			if got := snap.GetVersion(typ); got != "7" {
				t.Errorf("%s version = %q, want 7", typ, got)
			}
		}
		if n := len(snap.GetResources(resourcev3.EndpointType)); n != 2 {
			t.Errorf("%d endpoint resources, want 2", n)
		}
	}
}

func TestConsistencyCatchesDanglingReferences(t *testing.T) {
	c := testConfig(t, 80, 20)
	base := func() map[resourcev3.Type][]types.Resource {
		return map[resourcev3.Type][]types.Resource{
			resourcev3.ListenerType: {buildListener(c)},
			resourcev3.RouteType:    {buildRoute(c)},
			resourcev3.ClusterType:  {buildCluster(clusterV1), buildCluster(clusterV2)},
			resourcev3.EndpointType: {buildEndpoints(clusterV1, "v1", c.v1), buildEndpoints(clusterV2, "v2", c.v2)},
		}
	}
	if err := checkConsistent("1", base()); err != nil {
		t.Fatalf("consistent set rejected: %v", err)
	}

	noRoute := base()
	noRoute[resourcev3.RouteType] = nil
	if err := checkConsistent("1", noRoute); err == nil || !strings.Contains(err.Error(), "missing route") {
		t.Errorf("missing route not caught: %v", err)
	}

	badCluster := base()
	rc := buildRoute(c)
	rc.VirtualHosts[0].Routes[0].GetRoute().ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: "nope"}
	badCluster[resourcev3.RouteType] = []types.Resource{rc}
	if err := checkConsistent("1", badCluster); err == nil || !strings.Contains(err.Error(), "missing cluster") {
		t.Errorf("missing cluster not caught: %v", err)
	}

	noEndpoints := base()
	noEndpoints[resourcev3.EndpointType] = noEndpoints[resourcev3.EndpointType][:1]
	if err := checkConsistent("1", noEndpoints); err == nil {
		t.Error("missing ClusterLoadAssignment not caught")
	}
}

func TestParseWeights(t *testing.T) {
	good := map[string][2]uint32{"80 20": {80, 20}, "0 100": {0, 100}, "5 0": {5, 0}}
	for in, want := range good {
		w1, w2, err := parseWeights(strings.Fields(in))
		if err != nil || w1 != want[0] || w2 != want[1] {
			t.Errorf("parseWeights(%q) = %d, %d, %v; want %v", in, w1, w2, err, want)
		}
	}
	for _, in := range []string{"", "1", "0 0", "-1 2", "a b", "1 2 3", "4294967295 1"} {
		if _, _, err := parseWeights(strings.Fields(in)); err == nil {
			t.Errorf("parseWeights(%q) accepted", in)
		}
	}
}

func TestParseSocketAddress(t *testing.T) {
	for _, bad := range []string{"", "host", "host:", ":80", "host:0", "host:99999", "host:x"} {
		if _, err := parseSocketAddress(bad); err == nil {
			t.Errorf("parseSocketAddress(%q) accepted", bad)
		}
	}
	a, err := parseSocketAddress("[::1]:8080")
	if err != nil || a.GetAddress() != "::1" || a.GetPortValue() != 8080 {
		t.Errorf("got %v, %v", a, err)
	}
}

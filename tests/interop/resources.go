package main

import (
	"fmt"
	"net"
	"strconv"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Names of the two subsets, in the Istio proxyless-gRPC naming scheme
// "outbound|<port>|<subset>|<host>".
const (
	virtualHostName = "order-service"
	clusterV1       = "outbound|80|v1|order-service"
	clusterV2       = "outbound|80|v2|order-service"
	canaryHeader    = "x-canary"
	canaryValue     = "always"
)

// meshConfig is everything the snapshot is built from. Only the weights
// change at run time.
type meshConfig struct {
	target string // API listener name and route config name
	v1, v2 *corev3.SocketAddress
	w1, w2 uint32
}

// parseSocketAddress turns "host:port" into an Envoy TCP socket address.
func parseSocketAddress(hostPort string) (*corev3.SocketAddress, error) {
	host, portStr, err := net.SplitHostPort(hostPort)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("bad port %q in %q", portStr, hostPort)
	}
	if host == "" {
		return nil, fmt.Errorf("empty host in %q", hostPort)
	}
	return &corev3.SocketAddress{
		Protocol:      corev3.SocketAddress_TCP,
		Address:       host,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
	}, nil
}

// adsSource is the ConfigSource "fetch this over the same ADS stream".
func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
		ResourceApiVersion:    corev3.ApiVersion_V3,
	}
}

// mustAny packs a message into an Any; the inputs are built here, so a
// failure is a programming error.
func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}

// buildListener returns the gRPC API listener: an HttpConnectionManager that
// takes its routes from RDS over ADS and ends in the router filter.
func buildListener(c meshConfig) *listenerv3.Listener {
	hcm := &hcmv3.HttpConnectionManager{
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			RouteConfigName: c.target,
			ConfigSource:    adsSource(),
		}},
		HttpFilters: []*hcmv3.HttpFilter{{
			Name:       "envoy.filters.http.router",
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerv3.Router{})},
		}},
	}
	return &listenerv3.Listener{
		Name:        c.target,
		ApiListener: &listenerv3.ApiListener{ApiListener: mustAny(hcm)},
	}
}

// buildRoute returns the route table: a canary header pins traffic to v2,
// everything else is split by weight between v1 and v2.
func buildRoute(c meshConfig) *routev3.RouteConfiguration {
	canary := &routev3.Route{
		Name: "canary",
		Match: &routev3.RouteMatch{
			PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"},
			Headers: []*routev3.HeaderMatcher{{
				Name: canaryHeader,
				HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
					MatchPattern: &matcherv3.StringMatcher_Exact{Exact: canaryValue},
				}},
			}},
		},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: clusterV2},
		}},
	}
	split := &routev3.Route{
		Name:  "split",
		Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{
				Clusters: []*routev3.WeightedCluster_ClusterWeight{
					{Name: clusterV1, Weight: wrapperspb.UInt32(c.w1)},
					{Name: clusterV2, Weight: wrapperspb.UInt32(c.w2)},
				},
			}},
			Timeout: durationpb.New(5 * time.Second),
		}},
	}
	return &routev3.RouteConfiguration{
		Name: c.target,
		VirtualHosts: []*routev3.VirtualHost{{
			Name:    virtualHostName,
			Domains: []string{"order-service", "order-service:80"},
			Routes:  []*routev3.Route{canary, split},
		}},
	}
}

// buildCluster returns an EDS cluster whose endpoints come over ADS under
// the cluster's own name.
func buildCluster(name string) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsSource()},
		LbPolicy:             clusterv3.Cluster_ROUND_ROBIN,
		ConnectTimeout:       durationpb.New(time.Second),
	}
}

// buildEndpoints returns the one-endpoint assignment for a cluster, tagged
// with the Istio version label.
func buildEndpoints(name, version string, addr *corev3.SocketAddress) *endpointv3.ClusterLoadAssignment {
	meta, err := structpb.NewStruct(map[string]any{"version": version})
	if err != nil {
		panic(err)
	}
	return &endpointv3.ClusterLoadAssignment{
		ClusterName: name,
		Endpoints: []*endpointv3.LocalityLbEndpoints{{
			Locality: &corev3.Locality{Region: "local", Zone: "a"},
			LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: addr}},
				}},
				HealthStatus:        corev3.HealthStatus_HEALTHY,
				LoadBalancingWeight: wrapperspb.UInt32(1),
				Metadata: &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
					"istio": meta,
				}},
			}},
		}},
	}
}

// buildSnapshot assembles all resources under one version, validates each
// against its proto constraints and checks that every referenced resource
// is present, so a bad snapshot is never served.
func buildSnapshot(version string, c meshConfig) (*cachev3.Snapshot, error) {
	resources := map[resourcev3.Type][]types.Resource{
		resourcev3.ListenerType: {buildListener(c)},
		resourcev3.RouteType:    {buildRoute(c)},
		resourcev3.ClusterType:  {buildCluster(clusterV1), buildCluster(clusterV2)},
		resourcev3.EndpointType: {
			buildEndpoints(clusterV1, "v1", c.v1),
			buildEndpoints(clusterV2, "v2", c.v2),
		},
	}
	for typ, list := range resources {
		for _, r := range list {
			if v, ok := r.(interface{ ValidateAll() error }); ok {
				if err := v.ValidateAll(); err != nil {
					return nil, fmt.Errorf("%s: %w", typ, err)
				}
			}
		}
	}
	if err := checkConsistent(version, resources); err != nil {
		return nil, fmt.Errorf("inconsistent snapshot: %w", err)
	}
	return cachev3.NewSnapshot(version, resources)
}

// checkConsistent verifies LDS -> RDS -> CDS -> EDS references.
//
// Snapshot.Consistent() finds RDS names only inside listener filter chains,
// not in api_listener, so on the full snapshot it reports our route as
// unreferenced. It is therefore run on the CDS/EDS part alone (where it
// checks that each EDS cluster has exactly its ClusterLoadAssignment), and
// the listener and route references are checked here.
func checkConsistent(version string, resources map[resourcev3.Type][]types.Resource) error {
	cdsEds, err := cachev3.NewSnapshot(version, map[resourcev3.Type][]types.Resource{
		resourcev3.ClusterType:  resources[resourcev3.ClusterType],
		resourcev3.EndpointType: resources[resourcev3.EndpointType],
	})
	if err != nil {
		return err
	}
	if err := cdsEds.Consistent(); err != nil {
		return err
	}

	routes := names(resources[resourcev3.RouteType])
	for _, r := range resources[resourcev3.ListenerType] {
		l := r.(*listenerv3.Listener)
		hcm := &hcmv3.HttpConnectionManager{}
		if err := l.GetApiListener().GetApiListener().UnmarshalTo(hcm); err != nil {
			return fmt.Errorf("listener %q: api_listener: %w", l.GetName(), err)
		}
		if name := hcm.GetRds().GetRouteConfigName(); !routes[name] {
			return fmt.Errorf("listener %q references missing route %q", l.GetName(), name)
		}
	}

	clusters := names(resources[resourcev3.ClusterType])
	for _, r := range resources[resourcev3.RouteType] {
		rc := r.(*routev3.RouteConfiguration)
		for _, vh := range rc.GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				refs := []string{rt.GetRoute().GetCluster()}
				for _, wc := range rt.GetRoute().GetWeightedClusters().GetClusters() {
					refs = append(refs, wc.GetName())
				}
				for _, name := range refs {
					if name != "" && !clusters[name] {
						return fmt.Errorf("route %q references missing cluster %q", rc.GetName(), name)
					}
				}
			}
		}
	}
	return nil
}

// names returns the set of resource names in a list.
func names(list []types.Resource) map[string]bool {
	set := make(map[string]bool, len(list))
	for _, r := range list {
		set[cachev3.GetResourceName(r)] = true
	}
	return set
}

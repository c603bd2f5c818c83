package main

import (
	"context"
	"log"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	gcplog "github.com/envoyproxy/go-control-plane/pkg/log"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
)

// libraryLogger routes go-control-plane's own logging to stderr. Warnings
// matter: the ADS cache logs "not responding to request" when a request
// does not name every resource of its type (see README.md). Debug and info
// lines, which are per-watch and chatty, only appear with -debug.
func libraryLogger(debug bool) gcplog.Logger {
	l := gcplog.LoggerFuncs{
		WarnFunc:  func(f string, a ...any) { log.Printf("gcp warn: "+f, a...) },
		ErrorFunc: func(f string, a ...any) { log.Printf("gcp error: "+f, a...) },
	}
	if debug {
		l.DebugFunc = func(f string, a ...any) { log.Printf("gcp debug: "+f, a...) }
		l.InfoFunc = func(f string, a ...any) { log.Printf("gcp info: "+f, a...) }
	}
	return l
}

// loggingCallbacks logs the stream lifecycle and every request/response to
// stderr, so a failing Rust test can show what the control plane saw. A
// request carrying error_detail is the client NACKing a response.
func loggingCallbacks() serverv3.Callbacks {
	return serverv3.CallbackFuncs{
		StreamOpenFunc: func(_ context.Context, id int64, typeURL string) error {
			log.Printf("stream %d: open %s", id, orAll(typeURL))
			return nil
		},
		StreamClosedFunc: func(id int64, node *corev3.Node) {
			log.Printf("stream %d: closed (node %q)", id, node.GetId())
		},
		StreamRequestFunc: func(id int64, req *discoveryv3.DiscoveryRequest) error {
			kind := "request"
			if req.GetErrorDetail() != nil {
				kind = "NACK"
			} else if req.GetResponseNonce() != "" {
				kind = "ACK/request"
			}
			log.Printf("stream %d: %s %s version=%q nonce=%q names=[%s] node=%q%s",
				id, kind, shortType(req.GetTypeUrl()), req.GetVersionInfo(), req.GetResponseNonce(),
				strings.Join(req.GetResourceNames(), ","), req.GetNode().GetId(), nackDetail(req))
			return nil
		},
		StreamResponseFunc: func(_ context.Context, id int64, _ *discoveryv3.DiscoveryRequest, resp *discoveryv3.DiscoveryResponse) {
			log.Printf("stream %d: response %s version=%q nonce=%q resources=%d",
				id, shortType(resp.GetTypeUrl()), resp.GetVersionInfo(), resp.GetNonce(), len(resp.GetResources()))
		},
		DeltaStreamOpenFunc: func(_ context.Context, id int64, typeURL string) error {
			log.Printf("delta stream %d: open %s", id, orAll(typeURL))
			return nil
		},
		DeltaStreamClosedFunc: func(id int64, node *corev3.Node) {
			log.Printf("delta stream %d: closed (node %q)", id, node.GetId())
		},
		StreamDeltaRequestFunc: func(id int64, req *discoveryv3.DeltaDiscoveryRequest) error {
			log.Printf("delta stream %d: request %s nonce=%q subscribe=[%s] unsubscribe=[%s] error=%v",
				id, shortType(req.GetTypeUrl()), req.GetResponseNonce(),
				strings.Join(req.GetResourceNamesSubscribe(), ","),
				strings.Join(req.GetResourceNamesUnsubscribe(), ","), req.GetErrorDetail())
			return nil
		},
		StreamDeltaResponseFunc: func(id int64, _ *discoveryv3.DeltaDiscoveryRequest, resp *discoveryv3.DeltaDiscoveryResponse) {
			log.Printf("delta stream %d: response %s nonce=%q resources=%d removed=%d",
				id, shortType(resp.GetTypeUrl()), resp.GetNonce(), len(resp.GetResources()), len(resp.GetRemovedResources()))
		},
	}
}

// shortType trims the type URL to the message name, e.g. "Listener".
func shortType(typeURL string) string {
	if i := strings.LastIndexByte(typeURL, '.'); i >= 0 {
		return typeURL[i+1:]
	}
	return typeURL
}

func orAll(typeURL string) string {
	if typeURL == "" {
		return "ADS"
	}
	return typeURL
}

func nackDetail(req *discoveryv3.DiscoveryRequest) string {
	if d := req.GetErrorDetail(); d != nil {
		return " error=" + d.GetMessage()
	}
	return ""
}

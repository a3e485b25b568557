// A stand-in for an ingress controller on the local cluster's real node,
// where ingress-nginx's image cannot be pulled: it routes HTTP by the Host
// header and the path to the Service an Ingress names, as ingress-nginx does
// (an Exact path matches itself; of the Prefix paths that match, by whole
// path segments, the longest wins). It also takes proxy-style requests ("GET http://host/"),
// so a process on the host reaches any store by pointing http_proxy at it.
//
// It reads Ingresses and Services from the API server with the pod's own
// ServiceAccount and the Go standard library only (no client library to
// download), and answers 404 for a host no Ingress names, 502 when the
// backend does not answer.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"time"
)

const serviceAccount = "/var/run/secrets/kubernetes.io/serviceaccount"

type apiClient struct {
	base   string
	token  string
	client *http.Client
}

func newAPIClient() (*apiClient, error) {
	ca, err := os.ReadFile(serviceAccount + "/ca.crt")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	host := net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"))
	return &apiClient{
		base: "https://" + host,
		client: &http.Client{
			Timeout:   5 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		},
	}, nil
}

func (a *apiClient) get(path string, into any) error {
	// The token is projected and rotated: read it for every call.
	token, err := os.ReadFile(serviceAccount + "/token")
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodGet, a.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

type backendRef struct {
	Service struct {
		Name string `json:"name"`
		Port struct {
			Name   string `json:"name"`
			Number int    `json:"number"`
		} `json:"port"`
	} `json:"service"`
}

type ingressList struct {
	Items []struct {
		Metadata struct {
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			Rules []struct {
				Host string `json:"host"`
				HTTP struct {
					Paths []struct {
						Path     string     `json:"path"`
						PathType string     `json:"pathType"`
						Backend  backendRef `json:"backend"`
					} `json:"paths"`
				} `json:"http"`
			} `json:"rules"`
		} `json:"spec"`
	} `json:"items"`
}

type service struct {
	Spec struct {
		ClusterIP string `json:"clusterIP"`
		Ports     []struct {
			Name string `json:"name"`
			Port int    `json:"port"`
		} `json:"ports"`
	} `json:"spec"`
}

// matches says whether an Ingress path takes a request path, and how long a
// match it is (longer wins): Exact takes only itself, Prefix (and
// ImplementationSpecific, which ingress-nginx treats alike) whole segments.
func matches(rulePath, pathType, requestPath string) (bool, int) {
	if rulePath == "" {
		rulePath = "/"
	}
	if pathType == "Exact" {
		return requestPath == rulePath, len(rulePath)
	}
	prefix := strings.TrimSuffix(rulePath, "/")
	if prefix == "" || requestPath == prefix || strings.HasPrefix(requestPath, prefix+"/") {
		return true, len(prefix)
	}
	return false, 0
}

// backendFor finds the Service address of the Ingress path for host and path.
// Looked up per request: a store's Ingress appears while it provisions, and
// a stand-in serving a few test requests has no need of a cache.
func (a *apiClient) backendFor(host, requestPath string) (string, error) {
	var ingresses ingressList
	if err := a.get("/apis/networking.k8s.io/v1/ingresses", &ingresses); err != nil {
		return "", err
	}
	best, namespace := -1, ""
	var chosen backendRef
	for _, ing := range ingresses.Items {
		for _, rule := range ing.Spec.Rules {
			if rule.Host != host {
				continue
			}
			for _, p := range rule.HTTP.Paths {
				if ok, length := matches(p.Path, p.PathType, requestPath); ok && length > best {
					best, namespace, chosen = length, ing.Metadata.Namespace, p.Backend
				}
			}
		}
	}
	if best < 0 {
		return "", nil
	}
	var svc service
	ref := chosen.Service
	if err := a.get(fmt.Sprintf("/api/v1/namespaces/%s/services/%s", namespace, ref.Name), &svc); err != nil {
		return "", err
	}
	for _, port := range svc.Spec.Ports {
		if port.Port == ref.Port.Number || (ref.Port.Name != "" && port.Name == ref.Port.Name) {
			return net.JoinHostPort(svc.Spec.ClusterIP, fmt.Sprint(port.Port)), nil
		}
	}
	return "", fmt.Errorf("service %s/%s has no port %q/%d", namespace, ref.Name, ref.Port.Name, ref.Port.Number)
}

type backendKey struct{}

func withBackend(r *http.Request, backend string) context.Context {
	return context.WithValue(r.Context(), backendKey{}, backend)
}

func main() {
	api, err := newAPIClient()
	if err != nil {
		log.Fatalf("service account: %v", err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			target, _ := url.Parse("http://" + r.In.Context().Value(backendKey{}).(string))
			r.SetURL(target)
			r.Out.Host = r.In.Host // the store sees its own host name
			r.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "backend unavailable: "+err.Error(), http.StatusBadGateway)
		},
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The kubelet's probes carry this header (no store is named by it).
		if r.Header.Get("X-Ingress-Healthz") != "" {
			fmt.Fprintln(w, "ok")
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		backend, err := api.backendFor(host, r.URL.Path)
		if err != nil {
			http.Error(w, "cannot read ingresses: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if backend == "" {
			http.Error(w, "no ingress for host "+host, http.StatusNotFound)
			return
		}
		log.Printf("%s %s%s -> %s", r.Method, host, r.URL.Path, backend)
		proxy.ServeHTTP(w, r.WithContext(withBackend(r, backend)))
	})
	log.Printf("ingress stand-in listening on :8080 (API server %s)", api.base)
	log.Fatal(http.ListenAndServe(":8080", handler))
}

// A stand-in for the cluster DNS on the local cluster's real node, where
// CoreDNS's image cannot be pulled. It follows the contract of CoreDNS's
// kubernetes plugin, which kind and k3s run, for what the stores use:
//
//   - <service>.<namespace>.svc.cluster.local: A of the Service's ClusterIP;
//     for a headless Service (clusterIP None), A of its ready endpoints'
//     addresses, and NXDOMAIN while it has none;
//   - <hostname>.<service>.<namespace>.svc.cluster.local: a headless
//     Service's endpoint by its hostname (a StatefulSet's pod, whose
//     subdomain is the Service) or by its dashed address (10-244-0-7);
//   - any other name in cluster.local: NXDOMAIN, or NOERROR with no answer
//     for a name that has names below it (cluster.local, svc.cluster.local,
//     <namespace>.svc.cluster.local while the namespace has a Service);
//   - a known name asked for another type (AAAA on this IPv4 cluster): NOERROR
//     with no answer, so resolvers do not go on to the search domains;
//   - names outside cluster.local: forwarded to the nameservers of the pod's
//     /etc/resolv.conf (the host's: the pod runs with dnsPolicy Default), over
//     the protocol the question came by; SERVFAIL when none answers in 2 s.
//
// Not served (CoreDNS does): SRV records, ExternalName CNAMEs, pod records
// (<dashed-ip>.<namespace>.pod.cluster.local), reverse (PTR) names, EDNS0.
//
// It keeps Services and EndpointSlices in memory, listed and then watched
// with the pod's own ServiceAccount (standard library HTTP, like the ingress
// stand-in), and answers from there; golang.org/x/net/dns/dnsmessage reads
// and writes the wire format. It is ready (GET :8181/ready) once both have
// been listed, as CoreDNS's ready plugin waits for its first sync.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

const (
	serviceAccount  = "/var/run/secrets/kubernetes.io/serviceaccount"
	zone            = "cluster.local."
	servicesZone    = "svc." + zone
	ttl             = 5 // seconds, CoreDNS's default for cluster names
	upstreamTimeout = 2 * time.Second
	maxUDPSize      = 512 // no EDNS0: larger answers are truncated (TC), TCP gets them whole
)

// --- the API server ----------------------------------------------------------

type apiClient struct {
	base   string
	client *http.Client // no overall timeout: watches stay open
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
		base:   "https://" + host,
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	}, nil
}

// open GETs path; the caller closes the body.
func (a *apiClient) open(ctx context.Context, path string) (io.ReadCloser, error) {
	// The token is projected and rotated: read it for every call.
	token, err := os.ReadFile(serviceAccount + "/token")
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return resp.Body, nil
}

type meta struct {
	Name            string            `json:"name"`
	Namespace       string            `json:"namespace"`
	ResourceVersion string            `json:"resourceVersion"`
	Labels          map[string]string `json:"labels"`
}

type service struct {
	Metadata meta `json:"metadata"`
	Spec     struct {
		ClusterIPs []string `json:"clusterIPs"`
	} `json:"spec"`
}

type endpointSlice struct {
	Metadata  meta `json:"metadata"`
	Endpoints []struct {
		Addresses  []string `json:"addresses"`
		Hostname   string   `json:"hostname"`
		Conditions struct {
			Ready *bool `json:"ready"` // unset means ready (the API's convention)
		} `json:"conditions"`
	} `json:"endpoints"`
}

// follow keeps objects (keyed namespace/name) equal to what the API server
// holds at path: it lists them, then applies the watch's events from the
// list's resourceVersion on, and lists again when the watch ends (its
// timeout, an error, or a 410 Gone for a resourceVersion too old).
// changed is called, under mu, after each list and each event.
func follow[T any](a *apiClient, path string, objects map[string]T, name func(*T) meta, mu *sync.Mutex, changed func()) {
	for {
		if err := followOnce(a, path, objects, name, mu, changed); err != nil {
			log.Printf("%s: %v", path, err)
			time.Sleep(time.Second)
		}
	}
}

func followOnce[T any](a *apiClient, path string, objects map[string]T, name func(*T) meta, mu *sync.Mutex, changed func()) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	body, err := a.open(ctx, path)
	if err != nil {
		cancel()
		return err
	}
	var list struct {
		Metadata meta `json:"metadata"`
		Items    []T  `json:"items"`
	}
	err = json.NewDecoder(body).Decode(&list)
	body.Close()
	cancel()
	if err != nil {
		return err
	}
	mu.Lock()
	clear(objects)
	for i := range list.Items {
		m := name(&list.Items[i])
		objects[m.Namespace+"/"+m.Name] = list.Items[i]
	}
	changed()
	mu.Unlock()

	const watchSeconds = 300
	ctx, cancel = context.WithTimeout(context.Background(), (watchSeconds+30)*time.Second)
	defer cancel()
	body, err = a.open(ctx, fmt.Sprintf("%s?watch=1&resourceVersion=%s&timeoutSeconds=%d",
		path, list.Metadata.ResourceVersion, watchSeconds))
	if err != nil {
		return err
	}
	defer body.Close()
	events := json.NewDecoder(body)
	for {
		var event struct {
			Type   string          `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		if err := events.Decode(&event); err != nil {
			if errors.Is(err, io.EOF) {
				return nil // the watch's timeout: list again
			}
			return err
		}
		if event.Type == "ERROR" {
			return fmt.Errorf("watch: %s", event.Object) // e.g. 410 Gone: list again
		}
		var obj T
		if err := json.Unmarshal(event.Object, &obj); err != nil {
			return err
		}
		m := name(&obj)
		mu.Lock()
		switch event.Type {
		case "ADDED", "MODIFIED":
			objects[m.Namespace+"/"+m.Name] = obj
		case "DELETED":
			delete(objects, m.Namespace+"/"+m.Name)
		}
		changed()
		mu.Unlock()
	}
}

// --- the records ---------------------------------------------------------------

// table is what the server answers from, rebuilt whole after every change
// (a few hundred objects at most here) and swapped in atomically.
type table struct {
	addrs map[string][]netip.Addr // lower-case FQDN -> its A/AAAA addresses
	names map[string]bool         // every FQDN above, and every name that has one below it
}

func (t *table) add(name string, addrs ...netip.Addr) {
	t.addrs[name] = append(t.addrs[name], addrs...)
	for n := name; n != zone && strings.HasSuffix(n, zone); n = n[strings.IndexByte(n, '.')+1:] {
		t.names[n] = true
	}
	t.names[zone] = true
}

func build(services map[string]service, slices map[string]endpointSlice) *table {
	t := &table{addrs: map[string][]netip.Addr{}, names: map[string]bool{servicesZone: true, zone: true}}
	headless := map[string]bool{} // namespace/name
	for key, svc := range services {
		name := strings.ToLower(svc.Metadata.Name + "." + svc.Metadata.Namespace + "." + servicesZone)
		for _, ip := range svc.Spec.ClusterIPs {
			if ip == "None" {
				headless[key] = true
			} else if addr, err := netip.ParseAddr(ip); err == nil {
				t.add(name, addr)
			}
		}
	}
	for _, slice := range slices {
		svcName := slice.Metadata.Labels["kubernetes.io/service-name"]
		if !headless[slice.Metadata.Namespace+"/"+svcName] {
			continue // a ClusterIP Service answers with its ClusterIP only
		}
		name := strings.ToLower(svcName + "." + slice.Metadata.Namespace + "." + servicesZone)
		for _, ep := range slice.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, ip := range ep.Addresses {
				addr, err := netip.ParseAddr(ip)
				if err != nil {
					continue
				}
				t.add(name, addr)
				host := ep.Hostname
				if host == "" {
					host = strings.NewReplacer(".", "-", ":", "-").Replace(addr.String())
				}
				t.add(strings.ToLower(host)+"."+name, addr)
			}
		}
	}
	return t
}

// --- answering -------------------------------------------------------------------

type server struct {
	table     atomic.Pointer[table]
	upstreams []string // host:53
}

// answer builds the reply to one query, or returns nil to send none.
func (s *server) answer(query []byte, network string) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil || h.Response {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return reply(h, nil, dnsmessage.RCodeFormatError, nil, false)
	}
	if h.OpCode != 0 {
		return reply(h, &q, dnsmessage.RCodeNotImplemented, nil, false)
	}
	name := strings.ToLower(q.Name.String())
	if !inZone(name) {
		return s.forward(h, q, query, network)
	}
	t := s.table.Load()
	var answers []netip.Addr
	for _, addr := range t.addrs[name] {
		if (q.Type == dnsmessage.TypeA && addr.Is4()) || (q.Type == dnsmessage.TypeAAAA && addr.Is6()) {
			answers = append(answers, addr)
		}
	}
	rcode := dnsmessage.RCodeSuccess
	if !t.names[name] {
		rcode = dnsmessage.RCodeNameError
	}
	msg := reply(h, &q, rcode, answers, false)
	if network == "udp" && len(msg) > maxUDPSize {
		msg = reply(h, &q, rcode, nil, true)
	}
	return msg
}

func inZone(name string) bool { return name == zone || strings.HasSuffix(name, "."+zone) }

// reply answers q with addrs; in cluster.local it is authoritative and, with
// no address, carries the zone's SOA for negative caching (as CoreDNS's does).
func reply(h dnsmessage.Header, q *dnsmessage.Question, rcode dnsmessage.RCode, addrs []netip.Addr, truncated bool) []byte {
	authoritative := q != nil && inZone(strings.ToLower(q.Name.String())) && rcode != dnsmessage.RCodeNotImplemented
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{
		ID: h.ID, Response: true, OpCode: h.OpCode, Authoritative: authoritative,
		Truncated: truncated, RecursionDesired: h.RecursionDesired, RecursionAvailable: true, RCode: rcode,
	})
	b.EnableCompression()
	_ = b.StartQuestions()
	if q != nil {
		_ = b.Question(*q)
	}
	_ = b.StartAnswers()
	for _, addr := range addrs {
		rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: ttl}
		if addr.Is4() {
			_ = b.AResource(rh, dnsmessage.AResource{A: addr.As4()})
		} else {
			_ = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: addr.As16()})
		}
	}
	_ = b.StartAuthorities()
	if authoritative && len(addrs) == 0 && !truncated && (rcode == dnsmessage.RCodeSuccess || rcode == dnsmessage.RCodeNameError) {
		_ = b.SOAResource(
			dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(zone), Class: dnsmessage.ClassINET, TTL: ttl},
			dnsmessage.SOAResource{
				NS: dnsmessage.MustNewName("ns.dns." + zone), MBox: dnsmessage.MustNewName("hostmaster." + zone),
				Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, MinTTL: ttl,
			})
	}
	msg, err := b.Finish()
	if err != nil {
		log.Printf("building a reply: %v", err)
		return nil
	}
	return msg
}

// forward asks the upstream nameservers in turn, within upstreamTimeout in
// all, and relays the first reply as it came.
func (s *server) forward(h dnsmessage.Header, q dnsmessage.Question, query []byte, network string) []byte {
	deadline := time.Now().Add(upstreamTimeout)
	var lastErr error = errors.New("no nameserver in /etc/resolv.conf")
	for _, upstream := range s.upstreams {
		msg, err := exchange(upstream, network, query, deadline)
		if err == nil {
			return msg
		}
		lastErr = err
	}
	log.Printf("%s %s: SERVFAIL (%v)", q.Type, q.Name, lastErr)
	return reply(h, &q, dnsmessage.RCodeServerFailure, nil, false)
}

func exchange(upstream, network string, query []byte, deadline time.Time) ([]byte, error) {
	conn, err := net.DialTimeout(network, upstream, time.Until(deadline))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	if network == "udp" {
		if _, err := conn.Write(query); err != nil {
			return nil, err
		}
		buf := make([]byte, 65535)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return nil, err
			}
			if n >= 2 && buf[0] == query[0] && buf[1] == query[1] { // the same ID
				return buf[:n], nil
			}
		}
	}
	if err := writeTCP(conn, query); err != nil {
		return nil, err
	}
	return readTCP(conn)
}

// Over TCP each message is preceded by its length (RFC 1035 4.2.2).
func readTCP(conn net.Conn) ([]byte, error) {
	var size [2]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(size[:]))
	_, err := io.ReadFull(conn, msg)
	return msg, err
}

func writeTCP(conn net.Conn, msg []byte) error {
	_, err := conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...))
	return err
}

func (s *server) serveUDP(conn net.PacketConn) {
	for {
		buf := make([]byte, 65535)
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			log.Fatalf("udp: %v", err)
		}
		go func() { // a forwarded question may wait for its upstream
			if msg := s.answer(buf[:n], "udp"); msg != nil {
				_, _ = conn.WriteTo(msg, from)
			}
		}()
	}
}

func (s *server) serveTCP(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			log.Fatalf("tcp: %v", err)
		}
		go func() {
			defer conn.Close()
			for { // several queries per connection, until 10 s idle
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				query, err := readTCP(conn)
				if err != nil {
					return
				}
				msg := s.answer(query, "tcp")
				if msg == nil || writeTCP(conn, msg) != nil {
					return
				}
			}
		}()
	}
}

// upstreams reads the nameservers of resolv.conf.
func upstreams(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		log.Printf("no upstream nameservers: %v", err)
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "nameserver" {
			out = append(out, net.JoinHostPort(fields[1], "53"))
		}
	}
	return out
}

func main() {
	api, err := newAPIClient()
	if err != nil {
		log.Fatalf("service account: %v", err)
	}
	s := &server{upstreams: upstreams("/etc/resolv.conf")}
	s.table.Store(build(nil, nil))

	var mu sync.Mutex
	services, slices := map[string]service{}, map[string]endpointSlice{}
	var listed sync.WaitGroup // both kinds listed once: ready
	listed.Add(2)
	var servicesListed, slicesListed sync.Once
	go follow(api, "/api/v1/services", services, func(s *service) meta { return s.Metadata }, &mu, func() {
		s.table.Store(build(services, slices))
		servicesListed.Do(listed.Done)
	})
	go follow(api, "/apis/discovery.k8s.io/v1/endpointslices", slices, func(e *endpointSlice) meta { return e.Metadata }, &mu, func() {
		s.table.Store(build(services, slices))
		slicesListed.Do(listed.Done)
	})
	var ready atomic.Bool
	go func() { listed.Wait(); ready.Store(true); log.Printf("services and endpoints listed: ready") }()

	udp, err := net.ListenPacket("udp", ":53")
	if err != nil {
		log.Fatal(err)
	}
	tcp, err := net.Listen("tcp", ":53")
	if err != nil {
		log.Fatal(err)
	}
	go s.serveUDP(udp)
	go s.serveTCP(tcp)
	log.Printf("dns stand-in on :53 (udp, tcp) for %s, forwarding other names to %v; API server %s", zone, s.upstreams, api.base)

	http.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "not synced", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "OK")
	})
	log.Fatal(http.ListenAndServe(":8181", nil))
}

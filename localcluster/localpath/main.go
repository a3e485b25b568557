// A stand-in for local-path-provisioner (Rancher's, which kind and k3s run)
// on the local cluster's real node: it serves the StorageClass local-path
// (provisioner store-provisioner.io/local-path, WaitForFirstConsumer) as
// local-path-provisioner documents its behaviour:
//
//   - a claim of the class, once the scheduler has picked its pod's node
//     (annotation volume.kubernetes.io/selected-node), gets a PV named
//     pvc-<claim uid>: hostPath <base>/<pv name> (type Directory), with
//     nodeAffinity to that node, claimRef to the claim, the claim's size and
//     access modes and the class's reclaim policy; the PV controller then
//     binds the two. On the real node the directory is made first, mode 0777,
//     so that a container of any uid can write it (hostPath volumes get no
//     fsGroup); for a simulated (kwok) node only the PV is made, a record;
//   - a PV of the class that is Released (its claim deleted: by hand, by a
//     store's delete, with its namespace) under reclaim policy Delete loses
//     its directory and data (rm -rf), then is deleted;
//   - a directory under <base> that no PV names any more (a PV deleted by
//     hand) is removed too: a deleted store's data never stays on the disk.
//
// Only ReadWriteOnce / ReadWriteOncePod filesystem claims, as local-path
// (a Warning event ProvisioningFailed on the claim says why otherwise).
// Not done: PV finalizers, volume expansion, node path maps, helper pods.
//
// It runs as a daemon of the real node (localcluster/node.sh starts it beside
// the kubelet, in the node's mount namespace), not as a pod: it must make and
// remove directories as root at the very paths the kubelet mounts, and as a
// daemon it needs no hostPath pod running as root, goes with the node's
// other daemons on `node.sh down`, and authenticates with a client
// certificate like kube-router. Standard library only; it lists claims and
// volumes, reconciles, then waits on watches of both for the next change
// (or 30 s) and lists again.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

const (
	selectedNode  = "volume.kubernetes.io/selected-node"
	provisionedBy = "pv.kubernetes.io/provisioned-by"
)

var (
	server     = flag.String("server", "", "API server URL")
	caFile     = flag.String("ca", "", "cluster CA certificate")
	certFile   = flag.String("cert", "", "client certificate")
	keyFile    = flag.String("key", "", "client key")
	className  = flag.String("class", "local-path", "StorageClass served")
	provName   = flag.String("provisioner", "store-provisioner.io/local-path", "the class's provisioner name")
	realNode   = flag.String("node", "", "the real node's name: claims there get a directory")
	base       = flag.String("base", "", "directory holding the volumes' directories")
	httpClient *http.Client
)

// --- the API server ----------------------------------------------------------

func call(ctx context.Context, method, path string, body, into any) error {
	var in io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		in = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, *server+path, in)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return &apiError{code: resp.StatusCode, msg: fmt.Sprintf("%s %s: %s %s", method, path, resp.Status, msg)}
	}
	if into == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return e.msg }

func isStatus(err error, code int) bool {
	e, ok := err.(*apiError)
	return ok && e.code == code
}

func do(method, path string, body, into any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return call(ctx, method, path, body, into)
}

type meta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace,omitempty"`
	UID               string            `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	DeletionTimestamp *string           `json:"deletionTimestamp,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
}

type claim struct {
	Metadata meta `json:"metadata"`
	Spec     struct {
		StorageClassName *string  `json:"storageClassName"`
		VolumeName       string   `json:"volumeName"`
		VolumeMode       string   `json:"volumeMode"`
		AccessModes      []string `json:"accessModes"`
		Resources        struct {
			Requests map[string]string `json:"requests"`
		} `json:"resources"`
	} `json:"spec"`
	Status struct {
		Phase string `json:"phase"`
	} `json:"status"`
}

type volume struct {
	Metadata meta `json:"metadata"`
	Spec     struct {
		StorageClassName string `json:"storageClassName"`
		ReclaimPolicy    string `json:"persistentVolumeReclaimPolicy"`
	} `json:"spec"`
	Status struct {
		Phase string `json:"phase"`
	} `json:"status"`
}

type list[T any] struct {
	Metadata meta `json:"metadata"`
	Items    []T  `json:"items"`
}

// --- reconciling -----------------------------------------------------------------

type provisioner struct {
	reported map[string]string // claim uid -> the failure already reported by an event
}

// reconcile makes the PVs that pending claims wait for, and removes Released
// ones with their directories. It returns the lists' resourceVersions, which
// the watches start from.
func (p *provisioner) reconcile() (claimsRV, volumesRV string, err error) {
	var class struct {
		ReclaimPolicy string `json:"reclaimPolicy"`
	}
	if err := do("GET", "/apis/storage.k8s.io/v1/storageclasses/"+*className, nil, &class); err != nil {
		return "", "", err
	}
	var claims list[claim]
	if err := do("GET", "/api/v1/persistentvolumeclaims", nil, &claims); err != nil {
		return "", "", err
	}
	var volumes list[volume]
	if err := do("GET", "/api/v1/persistentvolumes", nil, &volumes); err != nil {
		return "", "", err
	}
	ours := map[string]bool{}
	for _, v := range volumes.Items {
		if v.Metadata.Annotations[provisionedBy] != *provName {
			continue
		}
		ours[v.Metadata.Name] = true
		if v.Status.Phase == "Released" && v.Spec.ReclaimPolicy == "Delete" && v.Metadata.DeletionTimestamp == nil {
			p.remove(v)
		}
	}
	p.sweep(ours)
	for _, c := range claims.Items {
		if c.Spec.StorageClassName == nil || *c.Spec.StorageClassName != *className || c.Spec.VolumeName != "" ||
			c.Status.Phase != "Pending" || c.Metadata.DeletionTimestamp != nil || c.Metadata.Annotations[selectedNode] == "" {
			continue
		}
		if ours["pvc-"+c.Metadata.UID] {
			continue // made; the PV controller binds it
		}
		if err := p.provision(c, class.ReclaimPolicy); err != nil {
			p.report(c, err.Error())
		}
	}
	return claims.Metadata.ResourceVersion, volumes.Metadata.ResourceVersion, nil
}

func (p *provisioner) provision(c claim, reclaimPolicy string) error {
	for _, mode := range c.Spec.AccessModes {
		if mode != "ReadWriteOnce" && mode != "ReadWriteOncePod" {
			return fmt.Errorf("access mode %s is not supported: only ReadWriteOnce and ReadWriteOncePod", mode)
		}
	}
	if c.Spec.VolumeMode == "Block" {
		return fmt.Errorf("volumeMode Block is not supported: only Filesystem")
	}
	if reclaimPolicy == "" {
		reclaimPolicy = "Delete"
	}
	nodeName := c.Metadata.Annotations[selectedNode]
	var node struct {
		Metadata meta `json:"metadata"`
	}
	if err := do("GET", "/api/v1/nodes/"+nodeName, nil, &node); err != nil {
		return fmt.Errorf("selected node: %v", err)
	}
	hostname := node.Metadata.Labels["kubernetes.io/hostname"]
	if hostname == "" {
		hostname = nodeName
	}
	name := "pvc-" + c.Metadata.UID
	dir := filepath.Join(*base, name)
	if nodeName == *realNode {
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return err
		}
		if err := os.Chmod(dir, 0o777); err != nil { // MkdirAll's mode is masked by the umask
			return err
		}
	}
	pv := map[string]any{
		"apiVersion": "v1",
		"kind":       "PersistentVolume",
		"metadata": map[string]any{
			"name":        name,
			"annotations": map[string]string{provisionedBy: *provName, selectedNode: nodeName},
		},
		"spec": map[string]any{
			"capacity":                      map[string]string{"storage": c.Spec.Resources.Requests["storage"]},
			"accessModes":                   c.Spec.AccessModes,
			"volumeMode":                    "Filesystem",
			"persistentVolumeReclaimPolicy": reclaimPolicy,
			"storageClassName":              *className,
			"claimRef": map[string]string{
				"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": c.Metadata.Namespace,
				"name": c.Metadata.Name, "uid": c.Metadata.UID, "resourceVersion": c.Metadata.ResourceVersion,
			},
			"hostPath": map[string]string{"path": dir, "type": "Directory"},
			"nodeAffinity": map[string]any{"required": map[string]any{"nodeSelectorTerms": []any{map[string]any{
				"matchExpressions": []any{map[string]any{
					"key": "kubernetes.io/hostname", "operator": "In", "values": []string{hostname},
				}},
			}}}},
		},
	}
	if err := do("POST", "/api/v1/persistentvolumes", pv, nil); err != nil && !isStatus(err, http.StatusConflict) {
		return err
	}
	log.Printf("claim %s/%s on node %s: PV %s", c.Metadata.Namespace, c.Metadata.Name, nodeName, name)
	return nil
}

// remove deletes a Released PV's directory and data, then the PV. The path is
// the one this provisioner gives a PV of that name, never read from the PV.
func (p *provisioner) remove(v volume) {
	dir := filepath.Join(*base, v.Metadata.Name)
	_, err := os.Stat(dir)
	hadDir := err == nil // none for a simulated node's PV
	if err := os.RemoveAll(dir); err != nil {
		log.Printf("PV %s: removing %s: %v", v.Metadata.Name, dir, err)
		return // tried again on the next pass
	}
	if err := do("DELETE", "/api/v1/persistentvolumes/"+v.Metadata.Name, nil, nil); err != nil && !isStatus(err, http.StatusNotFound) {
		log.Printf("PV %s: %v", v.Metadata.Name, err)
		return
	}
	if hadDir {
		log.Printf("PV %s released: %s removed, PV deleted", v.Metadata.Name, dir)
	} else {
		log.Printf("PV %s released: PV deleted", v.Metadata.Name)
	}
}

// sweep removes the directories no PV of the class names. Directories are
// made only by provision, on this goroutine, before their PV: the list of PVs
// read before this pass names every directory that should stay.
func (p *provisioner) sweep(ours map[string]bool) {
	entries, err := os.ReadDir(*base)
	if err != nil {
		log.Printf("sweep: %v", err)
		return
	}
	for _, e := range entries {
		if ours[e.Name()] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(*base, e.Name())); err != nil {
			log.Printf("sweep: %v", err)
			continue
		}
		log.Printf("removed %s: no PV names it", e.Name())
	}
}

// report puts a Warning event on the claim, once per claim and message (the
// platform's diagnosis reads a namespace's events).
func (p *provisioner) report(c claim, msg string) {
	log.Printf("claim %s/%s: %s", c.Metadata.Namespace, c.Metadata.Name, msg)
	if p.reported[c.Metadata.UID] == msg {
		return
	}
	p.reported[c.Metadata.UID] = msg
	now := time.Now().UTC().Format(time.RFC3339)
	event := map[string]any{
		"metadata": map[string]string{"generateName": c.Metadata.Name + ".", "namespace": c.Metadata.Namespace},
		"involvedObject": map[string]string{
			"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": c.Metadata.Namespace,
			"name": c.Metadata.Name, "uid": c.Metadata.UID,
		},
		"type": "Warning", "reason": "ProvisioningFailed", "message": "failed to provision volume: " + msg,
		"source":         map[string]string{"component": *provName},
		"firstTimestamp": now, "lastTimestamp": now, "count": 1,
	}
	if err := do("POST", "/api/v1/namespaces/"+c.Metadata.Namespace+"/events", event, nil); err != nil {
		log.Printf("event: %v", err)
	}
}

// waitForChange returns when a PVC or a PV changes after the given
// resourceVersions, or after 30 s.
func waitForChange(claimsRV, volumesRV string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	changed := make(chan struct{}, 2)
	watch := func(path, rv string) {
		defer func() { changed <- struct{}{} }()
		req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s%s?watch=1&resourceVersion=%s", *server, path, rv), nil)
		if err != nil {
			return
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		var event json.RawMessage // any event (an ERROR too: the next pass lists afresh)
		_ = json.NewDecoder(resp.Body).Decode(&event)
	}
	go watch("/api/v1/persistentvolumeclaims", claimsRV)
	go watch("/api/v1/persistentvolumes", volumesRV)
	<-changed
}

func main() {
	flag.Parse()
	if *server == "" || *base == "" || *realNode == "" {
		log.Fatal("-server, -base and -node are required")
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		log.Fatal(err)
	}
	ca, err := os.ReadFile(*caFile)
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	httpClient = &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}},
	}}
	if err := os.MkdirAll(*base, 0o755); err != nil {
		log.Fatal(err)
	}
	log.Printf("local-path stand-in: class %s (%s), volumes of node %s in %s", *className, *provName, *realNode, *base)
	p := &provisioner{reported: map[string]string{}}
	for {
		claimsRV, volumesRV, err := p.reconcile()
		if err != nil {
			log.Print(err)
			time.Sleep(2 * time.Second)
			continue
		}
		waitForChange(claimsRV, volumesRV)
	}
}

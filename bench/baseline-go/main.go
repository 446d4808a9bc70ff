// The Go baseline of bench:admission: a controller-runtime webhook written the way kubebuilder
// users write one (typed decode with admission.NewDecoder, mutate the typed Pod, marshal it and
// answer with admission.PatchResponseFromRaw), implementing rules 1-4 of docs/design.md §5 and
// the denial of ONLY_WATCH_K8S_RESOURCE with the default configuration of k8s-watch-policy.
//
//	--mode typed   (default) marshal + JSON diff (PatchResponseFromRaw), operations sorted by path
//	--mode direct  the same decision, the JSON patch built by hand (no marshal, no diff)
//
// What it does not do (the TypeScript webhook does): rules 5-6 (serverless/sidecar, node lookups),
// configuration, validation warnings and invalid-value checks, the other spelling rewrite,
// deprecatedEnv warn/migrate, DaemonSet/Deployment templates, /validate, structured logs.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

const (
	injectionLabel   = "deepflow.io/k8s-watch-policy-injection"
	policyLabel      = "deepflow.io/k8s-watch-policy"
	reasonAnnotation = "deepflow.io/k8s-watch-policy-reason"
	policyEnv        = "K8S_WATCH_POLICY"
	deprecatedEnv    = "ONLY_WATCH_K8S_RESOURCE"
	policyEnvSince   = "v6.6.6"
	onlyWatchValue   = "watch-only" // default onlyWatchValue: how only-watch is written into the env
	agentName        = "deepflow-agent"
)

var reviews = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "k8s_watch_policy_admission_reviews_total",
	Help: "Admission reviews answered, by resource, operation and result (patched, unchanged, denied, error).",
}, []string{"resource", "operation", "result"})

func init() { ctrlmetrics.Registry.MustRegister(reviews) }

// ---------------------------------------------------------------------------------------------
// Rules 1-4 and the deprecated-variable denial.

type decision struct {
	policy string // only-watch, watch-disabled, normal
	rule   string // disabled, no-agent, label, watcher-selector, watcher-deployment, default
}

func imageName(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, "/"); i >= 0 {
		image = image[i+1:]
	}
	if i := strings.Index(image, ":"); i >= 0 {
		image = image[:i]
	}
	return image
}

func isAgent(c *corev1.Container) bool { return c.Name == agentName || imageName(c.Image) == agentName }

func isInfrastructure(c *corev1.Container) bool {
	return c.Name == "istio-proxy" || c.Name == "linkerd-proxy"
}

func parsePolicyLabel(v string) string {
	switch v {
	case "only-watch", "watch-only":
		return "only-watch"
	case "watch-disabled", "normal":
		return v
	}
	return ""
}

func decide(pod *corev1.Pod) decision {
	labels := pod.Labels
	if labels[injectionLabel] == "disabled" {
		return decision{"normal", "disabled"}
	}
	if len(agentIndexes(pod)) == 0 {
		return decision{"normal", "no-agent"}
	}
	if p := parsePolicyLabel(labels[policyLabel]); p != "" {
		return decision{p, "label"}
	}
	if labels["deepflow.io/role"] == "k8s-watcher" {
		return decision{"only-watch", "watcher-selector"}
	}
	for _, o := range pod.OwnerReferences {
		if o.Controller != nil && *o.Controller && o.Kind == "ReplicaSet" {
			only := len(pod.Spec.Containers) > 0
			for i := range pod.Spec.Containers {
				c := &pod.Spec.Containers[i]
				if !isAgent(c) && !isInfrastructure(c) {
					only = false
				}
			}
			if only {
				return decision{"only-watch", "watcher-deployment"}
			}
		}
	}
	return decision{"normal", "default"}
}

func mutating(d decision) bool {
	return d.rule != "disabled" && d.rule != "no-agent" && d.rule != "default"
}

type located struct {
	field string // containers, initContainers
	index int
}

func agentIndexes(pod *corev1.Pod) []located {
	var out []located
	for i := range pod.Spec.InitContainers {
		if isAgent(&pod.Spec.InitContainers[i]) {
			out = append(out, located{"initContainers", i})
		}
	}
	for i := range pod.Spec.Containers {
		if isAgent(&pod.Spec.Containers[i]) {
			out = append(out, located{"containers", i})
		}
	}
	return out
}

func container(pod *corev1.Pod, l located) *corev1.Container {
	if l.field == "initContainers" {
		return &pod.Spec.InitContainers[l.index]
	}
	return &pod.Spec.Containers[l.index]
}

// The same text as the TypeScript webhook with deprecatedEnv: reject (the default).
func denials(pod *corev1.Pod) string {
	var out []string
	check := func(kind, name, image string, env []corev1.EnvVar) {
		for _, e := range env {
			if e.Name != deprecatedEnv {
				continue
			}
			fix := fmt.Sprintf("remove it and set %s=%s", policyEnv, onlyWatchValue)
			if imageName(image) == agentName && predatesPolicyEnv(image) {
				q, _ := json.Marshal(image)
				fix += fmt.Sprintf("; its image %s is an agent older than %s, which reads only %s: upgrade the agent to %s or later (or set deprecatedEnv: warn)", q, policyEnvSince, deprecatedEnv, policyEnvSince)
			} else {
				fix += fmt.Sprintf(" (agents older than %s read only %s: upgrade them first, or set deprecatedEnv: warn)", policyEnvSince, deprecatedEnv)
			}
			q, _ := json.Marshal(name)
			out = append(out, fmt.Sprintf("%s %s: %s is no longer supported (agents from %s on exit when they find it); %s", kind, q, deprecatedEnv, policyEnvSince, fix))
			return
		}
	}
	for _, c := range pod.Spec.InitContainers {
		check("init container", c.Name, c.Image, c.Env)
	}
	for _, c := range pod.Spec.Containers {
		check("container", c.Name, c.Image, c.Env)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		check("ephemeral container", c.Name, c.Image, c.Env)
	}
	return strings.Join(out, "; ")
}

// An agent image tagged vX.Y.Z older than v6.6.6 (a simplification of src/agent/agent_version.ts).
func predatesPolicyEnv(image string) bool {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return false
	}
	parts := strings.SplitN(strings.TrimPrefix(image[i+1:], "v"), ".", 3)
	if len(parts) < 3 {
		return false
	}
	v := [3]int{}
	for k, p := range parts {
		n := 0
		for n < len(p) && p[n] >= '0' && p[n] <= '9' {
			n++
		}
		x, err := strconv.Atoi(p[:n])
		if err != nil {
			return false
		}
		v[k] = x
	}
	return v[0] < 6 || (v[0] == 6 && (v[1] < 6 || (v[1] == 6 && v[2] < 6)))
}

func envValue(policy string) string {
	if policy == "only-watch" {
		return onlyWatchValue
	}
	return policy
}

// ---------------------------------------------------------------------------------------------
// The two handlers.

// review is what both handlers do first: decode, refuse the deprecated variable, decide; an
// answer when nothing is to be mutated.
func review(decoder admission.Decoder, req admission.Request) (*corev1.Pod, decision, *admission.Response) {
	pod := &corev1.Pod{}
	if err := decoder.Decode(req, pod); err != nil {
		r := admission.Errored(http.StatusBadRequest, err)
		return nil, decision{}, &r
	}
	if msg := denials(pod); msg != "" {
		r := admission.Denied(msg)
		return nil, decision{}, &r
	}
	d := decide(pod)
	if !mutating(d) {
		r := admission.Allowed("")
		return nil, d, &r
	}
	return pod, d, nil
}

type typedHandler struct{ decoder admission.Decoder }

// Handle is what kubebuilder users write: decode, mutate the typed object, marshal, diff.
func (h *typedHandler) Handle(_ context.Context, req admission.Request) admission.Response {
	pod, d, answer := review(h.decoder, req)
	if answer != nil {
		return *answer
	}
	value := envValue(d.policy)
	for _, l := range agentIndexes(pod) {
		c := container(pod, l)
		set := false
		for i := range c.Env {
			if c.Env[i].Name == policyEnv {
				c.Env[i] = corev1.EnvVar{Name: policyEnv, Value: value}
				set = true
			}
		}
		if !set {
			c.Env = append(c.Env, corev1.EnvVar{Name: policyEnv, Value: value})
		}
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[reasonAnnotation] = d.policy + "/" + d.rule
	marshaled, err := json.Marshal(pod)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	resp := admission.PatchResponseFromRaw(req.Object.Raw, marshaled)
	sort.SliceStable(resp.Patches, func(i, j int) bool { return resp.Patches[i].Path < resp.Patches[j].Path })
	return resp
}

type directHandler struct{ decoder admission.Decoder }

func escape(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1") }

// Handle decodes the same way and builds the patch from the decision (no marshal, no diff).
func (h *directHandler) Handle(_ context.Context, req admission.Request) admission.Response {
	pod, d, answer := review(h.decoder, req)
	if answer != nil {
		return *answer
	}
	value := envValue(d.policy)
	var ops []jsonpatch.Operation
	for _, l := range agentIndexes(pod) {
		c := container(pod, l)
		base := fmt.Sprintf("/spec/%s/%d/env", l.field, l.index)
		ev := map[string]string{"name": policyEnv, "value": value}
		found := false
		for i := range c.Env {
			if c.Env[i].Name == policyEnv {
				found = true
				if c.Env[i].Value != value || c.Env[i].ValueFrom != nil {
					ops = append(ops, jsonpatch.NewOperation("replace", fmt.Sprintf("%s/%d", base, i), ev))
				}
			}
		}
		if found {
			continue
		}
		if len(c.Env) == 0 {
			ops = append(ops, jsonpatch.NewOperation("add", base, []map[string]string{ev}))
		} else {
			ops = append(ops, jsonpatch.NewOperation("add", fmt.Sprintf("%s/%d", base, len(c.Env)), ev))
		}
	}
	reason := d.policy + "/" + d.rule
	if pod.Annotations == nil {
		ops = append(ops, jsonpatch.NewOperation("add", "/metadata/annotations", map[string]string{reasonAnnotation: reason}))
	} else if old, ok := pod.Annotations[reasonAnnotation]; !ok || old != reason {
		op := "add"
		if ok {
			op = "replace"
		}
		ops = append(ops, jsonpatch.NewOperation(op, "/metadata/annotations/"+escape(reasonAnnotation), reason))
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Path < ops[j].Path })
	if len(ops) == 0 {
		return admission.Allowed("")
	}
	pt := admissionv1.PatchTypeJSONPatch
	return admission.Response{Patches: ops, AdmissionResponse: admissionv1.AdmissionResponse{Allowed: true, PatchType: &pt}}
}

// counting wraps a handler with the metric the benchmark reads.
type counting struct{ inner admission.Handler }

func (c counting) Handle(ctx context.Context, req admission.Request) admission.Response {
	resp := c.inner.Handle(ctx, req)
	result := "unchanged"
	switch {
	case resp.Result != nil && resp.Result.Code >= 500, resp.Result != nil && resp.Result.Code == http.StatusBadRequest:
		result = "error"
	case !resp.Allowed:
		result = "denied"
	case len(resp.Patches) > 0:
		result = "patched"
	}
	reviews.WithLabelValues(req.Resource.Resource, string(req.Operation), result).Inc()
	return resp
}

// ---------------------------------------------------------------------------------------------

func main() {
	certDir := flag.String("cert-dir", "", "directory with tls.crt and tls.key")
	host := flag.String("host", "0.0.0.0", "listen address")
	port := flag.Int("port", 8443, "HTTPS port (POST /mutate, GET /readyz)")
	metricsPort := flag.Int("metrics-port", 8080, "HTTP port of /metrics")
	mode := flag.String("mode", "typed", "typed (marshal + PatchResponseFromRaw) or direct (hand-built patch)")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard())

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fatal(err)
	}
	decoder := admission.NewDecoder(scheme)
	var handler admission.Handler
	switch *mode {
	case "typed":
		handler = &typedHandler{decoder: decoder}
	case "direct":
		handler = &directHandler{decoder: decoder}
	default:
		fatal(fmt.Errorf("--mode: typed or direct, got %q", *mode))
	}
	wh := &admission.Webhook{Handler: counting{handler}}

	mux := http.NewServeMux()
	mux.Handle("/mutate", wh)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	srv := &http.Server{Addr: net.JoinHostPort(*host, strconv.Itoa(*port)), Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	metricsMux := http.NewServeMux()
	metricsMux.Handle("/metrics", promhttp.HandlerFor(ctrlmetrics.Registry, promhttp.HandlerOpts{}))
	msrv := &http.Server{Addr: net.JoinHostPort(*host, strconv.Itoa(*metricsPort)), Handler: metricsMux, ReadHeaderTimeout: 10 * time.Second}

	errs := make(chan error, 2)
	go func() {
		errs <- srv.ListenAndServeTLS(filepath.Join(*certDir, "tls.crt"), filepath.Join(*certDir, "tls.key"))
	}()
	go func() { errs <- msrv.ListenAndServe() }()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-errs:
		fatal(err)
	case <-stop:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range []*http.Server{srv, msrv} {
		if err := s.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "baseline-go: %v\n", err)
	os.Exit(1)
}

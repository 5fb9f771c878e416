package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/windflow/monitor/activities"
	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/secretbox"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/internal/temporaltest"
	"github.com/windflow/monitor/worker"
	"github.com/windflow/monitor/workflows"
)

// tlsBundle is a testBundle whose worker and API have a secret key, plus
// what they logged.
type tlsBundle struct {
	*testBundle
	box  *secretbox.Box
	logs *syncBuffer
}

// syncBuffer is a bytes.Buffer for concurrent log writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// setupTLS is setupWith(t, 1) with WINDFLOW_SECRET_KEY set, read the way
// the command does (secretbox.FromString of the variable) and given to the
// worker's activities and to the API, and with the worker's Temporal logger
// and the API's logger writing to a buffer that the test scans.
func setupTLS(t *testing.T) *tlsBundle {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	t.Setenv(secretbox.EnvVar, base64.StdEncoding.EncodeToString(key))
	box, err := secretbox.FromString(os.Getenv(secretbox.EnvVar))
	if err != nil || box == nil {
		t.Fatalf("secret key: %v", err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	databaseURL := storetest.NewSchema(t)
	st, err := store.Open(context.Background(), databaseURL)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	taskQueue := "e2e-tls-" + uuid.NewString()
	wc, err := client.Dial(client.Options{HostPort: temporaltest.Address(t), Identity: "e2e-tls-worker",
		Logger: tlog.NewStructuredLogger(logger)})
	if err != nil {
		t.Fatalf("dial temporal: %v", err)
	}
	t.Cleanup(wc.Close)
	w := worker.New(wc, taskQueue, &activities.Activities{
		Store:     st,
		Collector: engine.Collector{Parallelism: 4},
		Temporal:  wc,
		TaskQueue: taskQueue,
		Secrets:   box,
	})
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(w.Stop)
	tc := dial(t, "e2e-tls-api")
	srv := api.NewTestServer(t, api.Config{Namespace: "default", UIURL: "http://127.0.0.1:8233", Logger: logger}, api.Deps{Store: st, Secrets: box, Flows: api.FlowsFor(st, tc, taskQueue)})
	hs := httptest.NewServer(srv.Routes())
	t.Cleanup(hs.Close)
	return &tlsBundle{
		testBundle: &testBundle{api: hs, store: st, temporal: tc, databaseURL: databaseURL, taskQueue: taskQueue},
		box:        box, logs: logs,
	}
}

// tlsBody returns the JSON of a create request with TLS material.
func tlsBody(name, endpoint, settings string, m engine.TLSMaterial) string {
	b, _ := json.Marshal(map[string]any{
		"name": name, "endpoint": endpoint, "settings": json.RawMessage(settings),
		"tls": map[string]string{"ca": string(m.CA), "cert": string(m.Cert), "key": string(m.Key)},
	})
	return string(b)
}

// tlsAnswer is the tls block of an environment answer.
type tlsAnswer struct {
	ID  string `json:"id"`
	TLS *struct {
		CA                 bool       `json:"ca"`
		ClientCert         bool       `json:"clientCert"`
		ClientCertSubject  string     `json:"clientCertSubject"`
		ClientCertNotAfter *time.Time `json:"clientCertNotAfter"`
	} `json:"tls"`
}

// needles are byte strings that must never show outside the sealed column.
type needles struct {
	text [][]byte // searched in text and in decoded bytes
}

// secretNeedles returns the needles of some material: PEM armour, the
// base64 bodies of the CA, certificate and key (whole, per 64-character
// line, and in 16-character pieces for the key), and their DER in 24-byte
// pieces, raw and in hex.
func secretNeedles(t *testing.T, ms ...engine.TLSMaterial) needles {
	t.Helper()
	n := needles{text: [][]byte{[]byte("BEGIN"), []byte("-----END")}}
	add := func(p []byte, keyPieces bool) {
		for rest := p; ; {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			for i := 0; i+24 <= len(block.Bytes); i += 24 { // DER, and its hex
				n.text = append(n.text, block.Bytes[i:i+24], []byte(hex.EncodeToString(block.Bytes[i:i+24])))
			}
			body := base64.StdEncoding.EncodeToString(block.Bytes)
			n.text = append(n.text, []byte(body))
			for i := 0; i+64 <= len(body); i += 64 {
				n.text = append(n.text, []byte(body[i:i+64]))
			}
			if keyPieces {
				for i := 0; i+16 <= len(body); i += 16 {
					n.text = append(n.text, []byte(body[i:i+16]))
				}
			}
		}
	}
	for _, m := range ms {
		add(m.CA, false)
		add(m.Cert, false)
		add(m.Key, true)
	}
	return n
}

// find returns the first needle in haystack and where it is, or -1.
func (n needles) find(haystack []byte) ([]byte, int) {
	for _, needle := range n.text {
		if i := bytes.Index(haystack, needle); i >= 0 {
			return needle, i
		}
	}
	return nil, -1
}

// check fails when haystack shows any needle.
func (n needles) check(t *testing.T, where string, haystack []byte) {
	t.Helper()
	if needle, i := n.find(haystack); i >= 0 {
		lo, hi := max(i-60, 0), min(i+len(needle)+60, len(haystack))
		t.Fatalf("%s shows certificate or key material (%q…) near %q", where, needle[:min(len(needle), 12)], haystack[lo:hi])
	}
}

// selfTest checks that the scan would see the material where it could
// hide: as JSON in a payload (base64 in protojson), cut into a JSON
// string, or as bare base64 lines.
func (n needles) selfTest(t *testing.T, m engine.TLSMaterial) {
	t.Helper()
	asJSON, _ := json.Marshal(map[string]string{"key": string(m.Key)})
	payload := &commonpb.Payloads{Payloads: []*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: asJSON}}}
	found := false
	for _, b := range protoBytes(payload.ProtoReflect()) {
		_, i := n.find(b)
		found = found || i >= 0
	}
	if !found {
		t.Fatal("self-test: key material in a payload's bytes is not found")
	}
	_, lines := pemLines(m.Key)
	if _, i := n.find([]byte(`"x":"` + lines[1][3:40] + `"`)); i < 0 {
		t.Fatal("self-test: a piece of a key line is not found")
	}
	if _, i := n.find([]byte(lines[0] + lines[1])); i < 0 {
		t.Fatal("self-test: key lines without PEM armour are not found")
	}
}

// pemLines returns the base64 lines of a PEM text.
func pemLines(p []byte) (string, []string) {
	var lines []string
	for _, l := range strings.Split(string(p), "\n") {
		if l != "" && !strings.HasPrefix(l, "-----") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, ""), lines
}

// protoBytes returns every bytes field of m, recursively (payload data,
// heartbeat details, failure details…): protojson shows them in base64,
// where a PEM would not match a plain search.
func protoBytes(m protoreflect.Message) [][]byte {
	var out [][]byte
	var walk func(m protoreflect.Message)
	value := func(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
		switch {
		case fd.Kind() == protoreflect.BytesKind:
			out = append(out, v.Bytes())
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			walk(v.Message())
		}
	}
	walk = func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList():
				for i := 0; i < v.List().Len(); i++ {
					value(fd, v.List().Get(i))
				}
			case fd.IsMap():
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					value(fd.MapValue(), mv)
					return true
				})
			default:
				value(fd, v)
			}
			return true
		})
	}
	walk(m)
	return out
}

// checkProto scans the protojson of m and every bytes field in it.
func (n needles) checkProto(t *testing.T, where string, m proto.Message) {
	t.Helper()
	j, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	n.check(t, where+" (protojson)", j)
	for _, b := range protoBytes(m.ProtoReflect()) {
		n.check(t, where+" (payload bytes)", b)
	}
}

// TestEndToEnd_TLS runs an environment behind a TLS endpoint that requires
// client certificates (the local engine behind enginetest's TLS proxy):
// metrics and events arrive through it, and the certificate and key appear
// in no API answer, no log line, no workflow history, no workflow
// description or query, and not in clear in Postgres.
func TestEndToEnd_TLS(t *testing.T) {
	cli := enginetest.Client(t)
	b := setupTLS(t)
	proxy := enginetest.StartTLSProxyServer(t, enginetest.Endpoint())
	m := proxy.Material
	rotated := proxy.PKI.ClientMaterial(t, "windflow rotated client")
	stranger := enginetest.NewPKI(t, "stranger CA").ClientMaterial(t, "stranger")
	secrets := secretNeedles(t, m, rotated, stranger)
	secrets.selfTest(t, m)
	answers := map[string]string{} // what the API said, scanned at the end
	keep := func(what, body string) string { answers[what] = body; return body }

	busy := enginetest.RunContainer(t, cli, "wf-e2e-tls-busy", "sh", "-c", "while :; do :; done")

	// Create: 201, the answer says what TLS there is and nothing more.
	name := "e2e-tls-" + uuid.NewString()[:8]
	code, body := b.raw(t, http.MethodPost, "/api/v1/environments", tlsBody(name, proxy.Endpoint, `{"metricsIntervalSeconds":10}`, m))
	keep("POST /environments", body)
	var env tlsAnswer
	if err := json.Unmarshal([]byte(body), &env); err != nil || code != http.StatusCreated {
		t.Fatalf("create TLS environment: %d %s (%v)", code, body, err)
	}
	t.Cleanup(func() { b.call(t, http.MethodDelete, "/api/v1/environments/"+env.ID, "", nil) })
	// A second environment on the same endpoint with a client certificate
	// and CA of another PKI: every handshake fails.
	code, body = b.raw(t, http.MethodPost, "/api/v1/environments",
		tlsBody("e2e-tls-wrong-"+uuid.NewString()[:8], proxy.Endpoint, `{"metricsIntervalSeconds":10,"offlineAfter":1}`, stranger))
	keep("POST /environments (wrong CA)", body)
	var wrong tlsAnswer
	if err := json.Unmarshal([]byte(body), &wrong); err != nil || code != http.StatusCreated {
		t.Fatalf("create wrong-CA environment: %d %s (%v)", code, body, err)
	}
	t.Cleanup(func() { b.call(t, http.MethodDelete, "/api/v1/environments/"+wrong.ID, "", nil) })
	if env.TLS == nil || !env.TLS.CA || !env.TLS.ClientCert || env.TLS.ClientCertSubject != "CN=windflow test client" ||
		env.TLS.ClientCertNotAfter == nil || time.Until(*env.TLS.ClientCertNotAfter) < time.Hour {
		t.Fatalf("tls in the answer: %s", body)
	}
	envPath := "/api/v1/environments/" + env.ID

	// Metrics of the busy container arrive through the TLS endpoint.
	eventually(t, 45*time.Second, "container metrics through TLS", func() bool {
		var out struct{ Containers []containerJSON }
		b.call(t, http.MethodGet, envPath+"/containers/metrics", "", &out)
		for _, c := range out.Containers {
			if c.ContainerID == busy && c.CPUPercent > 0 {
				return true
			}
		}
		return false
	})
	var status struct {
		Stored *struct{ Online bool }
		Live   *workflows.State
	}
	eventually(t, 30*time.Second, "status online", func() bool {
		b.call(t, http.MethodGet, envPath+"/status", "", &status)
		return status.Stored != nil && status.Stored.Online && status.Live != nil && status.Live.Status == workflows.StatusOnline
	})

	// Events stream through it too (StreamEvents → ReadEvents over TLS).
	evID := enginetest.RunContainer(t, cli, "wf-e2e-tls-events", "sleep", "3600")
	eventually(t, 45*time.Second, "the start event of a new container through TLS", func() bool {
		var page struct{ Events []apiEvent }
		b.call(t, http.MethodGet, envPath+"/events?container="+evID, "", &page)
		for _, e := range page.Events {
			if e.ContainerID == evID && e.Action == "start" {
				return true
			}
		}
		return false
	})

	// A settings Update and a signal, so that their payloads are in history.
	if code, body := b.raw(t, http.MethodPut, envPath+"/settings", `{"offlineAfter":4}`); code != http.StatusOK {
		t.Fatalf("settings update: %d %s", code, body)
	} else {
		keep("PUT settings", body)
	}
	three := 3
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	wid := workflows.WorkflowID(env.ID)
	if err := b.temporal.SignalWorkflow(ctx, wid, "", workflows.SignalConfigure, workflows.SettingsPatch{OfflineAfter: &three}); err != nil {
		t.Fatalf("signal: %v", err)
	}

	// Rotate the client certificate: the next cycles use the new one.
	code, body = b.raw(t, http.MethodPatch, envPath, fmt.Sprintf(`{"tls":{"ca":%q,"cert":%q,"key":%q}}`, rotated.CA, rotated.Cert, rotated.Key))
	keep("PATCH tls", body)
	var patched tlsAnswer
	if err := json.Unmarshal([]byte(body), &patched); err != nil || code != http.StatusOK ||
		patched.TLS == nil || patched.TLS.ClientCertSubject != "CN=windflow rotated client" {
		t.Fatalf("rotate client certificate: %d %s", code, body)
	}
	// The old certificate is refused from now on; cut the open connections
	// (the event stream reconnects, with the new material).
	proxy.RejectClient("windflow test client")
	proxy.CloseConnections()
	rotatedAt := time.Now()
	eventually(t, 40*time.Second, "two cycles with the rotated certificate", func() bool {
		n := 0
		for _, c := range b.cycleTimes(t, env.ID) {
			if c.After(rotatedAt) {
				n++
			}
		}
		return n >= 2
	})

	// Every API answer about the environment.
	for _, path := range []string{"/api/v1/environments", envPath, envPath + "/status", envPath + "/containers/metrics",
		envPath + "/metrics?step=1s", envPath + "/events", envPath + "/disk", "/api/v1/events"} {
		code, body := b.raw(t, http.MethodGet, path, "")
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		keep("GET "+path, body)
	}
	for what, body := range answers {
		secrets.check(t, "answer of "+what, []byte(body))
	}
	if !strings.Contains(answers["GET "+envPath], `"clientCert":true`) {
		t.Fatalf("GET environment does not describe its TLS: %s", answers["GET "+envPath])
	}

	// Postgres: only the sealed form, which opens to the rotated material.
	conn, err := pgx.Connect(ctx, b.databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var sealed []byte
	var rowJSON string
	if err := conn.QueryRow(ctx, `SELECT tls_sealed, row_to_json(e)::text FROM environments e WHERE id = $1`, env.ID).Scan(&sealed, &rowJSON); err != nil {
		t.Fatal(err)
	}
	secrets.check(t, "tls_sealed column", sealed)
	secrets.check(t, "environments row", []byte(rowJSON))
	if id, err := secretbox.SealedKeyID(sealed); err != nil || id != b.box.KeyID() {
		t.Fatalf("tls_sealed is not sealed with the key: %s, %v", id, err)
	}
	if got, err := engine.OpenTLS(b.box, env.ID, sealed); err != nil || !bytes.Equal(got.Key, rotated.Key) {
		t.Fatalf("tls_sealed does not open to the rotated material: %v", err)
	}

	// The whole workflow: description, query and history.
	sealedB64 := []byte(base64.StdEncoding.EncodeToString(sealed)[:32])
	counts := b.scanWorkflow(t, ctx, secrets, wid, sealed[:32], sealedB64)
	for _, want := range []enumspb.EventType{
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
		enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, enumspb.EVENT_TYPE_TIMER_STARTED,
	} {
		if counts[want] == 0 {
			t.Errorf("history has no %s event: the scan did not cover it (%v)", want, counts)
		}
	}
	t.Logf("TLS environment: scanned %d history event types: %v", len(counts), counts)

	// The environment whose handshakes fail: failures (activity failure
	// messages, the stream's last failure) name the TLS error, not the
	// material.
	eventually(t, 60*time.Second, "the wrong-CA environment offline with a failed CollectMetrics", func() bool {
		var st struct {
			Stored *struct {
				Online bool
				Error  string
			}
		}
		b.call(t, http.MethodGet, "/api/v1/environments/"+wrong.ID+"/status", "", &st)
		return st.Stored != nil && !st.Stored.Online && strings.Contains(st.Stored.Error, "certificate")
	})
	code, body = b.raw(t, http.MethodGet, "/api/v1/environments/"+wrong.ID+"/status", "")
	secrets.check(t, "status of the wrong-CA environment", []byte(body))
	wrongCounts := b.scanWorkflow(t, ctx, secrets, workflows.WorkflowID(wrong.ID), nil, nil)
	if wrongCounts[enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED] == 0 {
		t.Errorf("the wrong-CA environment's history has no failed activity: %v", wrongCounts)
	}
	if code != http.StatusOK {
		t.Fatalf("status of the wrong-CA environment: %d", code)
	}
	t.Logf("wrong-CA environment: scanned history %v", wrongCounts)

	// Nor did anything log it.
	logs := b.logs.String()
	secrets.check(t, "worker and API logs", []byte(logs))
	t.Logf("scanned %d bytes of worker and API logs", len(logs))
}

// scanWorkflow checks that the workflow wid shows no material: its
// description (memo, summaries, pending activities with heartbeat details
// and last failures), its state query, and, once it is cancelled (which
// cancels the stream activity with its last heartbeat), every event of its
// history, protojson and payload bytes. extra are further needles for the
// payload bytes (the sealed form). It returns the count of each event type.
func (b *testBundle) scanWorkflow(t *testing.T, ctx context.Context, secrets needles, wid string, extra ...[]byte) map[enumspb.EventType]int {
	t.Helper()
	desc, err := b.temporal.DescribeWorkflow(ctx, wid, "")
	if err != nil {
		t.Fatal(err)
	}
	secrets.checkProto(t, wid+": description", desc.RawResponse)
	val, err := b.temporal.QueryWorkflow(ctx, wid, "", workflows.QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var state json.RawMessage
	if err := val.Get(&state); err != nil {
		t.Fatal(err)
	}
	secrets.check(t, wid+": state query", state)

	if err := b.temporal.CancelWorkflow(ctx, wid, ""); err != nil {
		t.Fatal(err)
	}
	_ = b.temporal.GetWorkflow(ctx, wid, "").Get(ctx, nil)
	counts := map[enumspb.EventType]int{}
	iter := b.temporal.GetWorkflowHistory(ctx, wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		counts[ev.GetEventType()]++
		where := fmt.Sprintf("%s: history event %d (%s)", wid, ev.GetEventId(), ev.GetEventType())
		secrets.checkProto(t, where, ev)
		for _, bs := range protoBytes(ev.ProtoReflect()) {
			for _, x := range extra {
				if len(x) > 0 && bytes.Contains(bs, x) {
					t.Fatalf("%s holds the sealed material", where)
				}
			}
		}
	}
	return counts
}

// TestEndToEnd_TLSBadInput checks the 400s of TLS material: garbage,
// mismatches, a unix endpoint, a server without key; and removal.
func TestEndToEnd_TLSBadInput(t *testing.T) {
	enginetest.Client(t)
	b := setupTLS(t)
	pki := enginetest.NewPKI(t, "bad-input CA")
	m := pki.ClientMaterial(t, "c1")
	other := enginetest.NewPKI(t, "other CA").ClientMaterial(t, "c2")
	secrets := secretNeedles(t, m, other)
	const tcp = "tcp://127.0.0.1:2376"
	paused := `{"paused":true}`

	for _, tc := range []struct {
		name, endpoint string
		m              engine.TLSMaterial
		status         int
		code, message  string
	}{
		{"garbage key", tcp, engine.TLSMaterial{CA: m.CA, Cert: m.Cert, Key: []byte("-----BEGIN PRIVATE KEY-----\nAAAA" + string(m.Key[40:90]) + "\n-----END PRIVATE KEY-----\n")}, 400, "invalid_tls", "key:"},
		{"key of another certificate", tcp, engine.TLSMaterial{CA: m.CA, Cert: m.Cert, Key: other.Key}, 400, "invalid_tls", "does not belong"},
		{"certificate without key", tcp, engine.TLSMaterial{Cert: m.Cert}, 400, "invalid_tls", "together"},
		{"key pasted as CA", tcp, engine.TLSMaterial{CA: m.Key}, 400, "invalid_tls", "ca:"},
		{"garbage CA", tcp, engine.TLSMaterial{CA: []byte("not a certificate")}, 400, "invalid_tls", "ca:"},
		{"unix endpoint", "unix:///var/run/docker.sock", m, 400, "invalid_endpoint", "tcp://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := b.raw(t, http.MethodPost, "/api/v1/environments", tlsBody("bad-"+uuid.NewString()[:8], tc.endpoint, paused, tc.m))
			var e errorJSON
			_ = json.Unmarshal([]byte(body), &e)
			if code != tc.status || e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.message) {
				t.Fatalf("status %d, %s; want %d %s containing %q", code, body, tc.status, tc.code, tc.message)
			}
			secrets.check(t, "error answer", []byte(body))
		})
	}
	var unknown errorJSON
	if code := b.call(t, http.MethodPost, "/api/v1/environments",
		`{"name":"x","endpoint":"tcp://h:1","tls":{"clientKey":"x"}}`, &unknown); code != 400 || unknown.Error.Code != "invalid_json" {
		t.Fatalf("unknown tls field: %d %+v", code, unknown)
	}

	// A TLS environment (paused: nothing connects), then PATCHes.
	code, body := b.raw(t, http.MethodPost, "/api/v1/environments", tlsBody("patch-"+uuid.NewString()[:8], tcp, paused, m))
	var env tlsAnswer
	if err := json.Unmarshal([]byte(body), &env); err != nil || code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	t.Cleanup(func() { b.call(t, http.MethodDelete, "/api/v1/environments/"+env.ID, "", nil) })
	envPath := "/api/v1/environments/" + env.ID
	var e errorJSON
	if code := b.call(t, http.MethodPatch, envPath, `{"endpoint":"unix:///var/run/docker.sock"}`, &e); code != 400 || e.Error.Code != "invalid_endpoint" {
		t.Fatalf("unix endpoint with TLS kept: %d %+v", code, e)
	}
	if code := b.call(t, http.MethodPatch, envPath, `{"tls":{"cert":"x"}}`, &e); code != 400 || e.Error.Code != "invalid_tls" {
		t.Fatalf("PATCH bad tls: %d %+v", code, e)
	}
	// Still the original material after the rejected changes.
	code, body = b.raw(t, http.MethodGet, envPath, "")
	if code != 200 || !strings.Contains(body, `"clientCertSubject":"CN=c1"`) || !strings.Contains(body, `"endpoint":"tcp://127.0.0.1:2376"`) {
		t.Fatalf("after rejected PATCHes: %d %s", code, body)
	}
	secrets.check(t, "GET environment", []byte(body))
	// Endpoint to unix together with "tls": null: accepted, TLS gone.
	code, body = b.raw(t, http.MethodPatch, envPath, `{"endpoint":"unix:///var/run/docker.sock","tls":null}`)
	if code != 200 || !strings.Contains(body, `"tls":null`) {
		t.Fatalf("remove TLS: %d %s", code, body)
	}
	var sealed []byte
	conn, err := pgx.Connect(t.Context(), b.databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(t.Context(), `SELECT tls_sealed FROM environments WHERE id = $1`, env.ID).Scan(&sealed); err != nil || sealed != nil {
		t.Fatalf("tls_sealed after removal: %x, %v", sealed, err)
	}

	// A server without a key refuses TLS material, and still takes the rest.
	noKey := api.NewTestServer(t, api.Config{Namespace: "default"}, api.Deps{Store: b.store, Flows: api.FlowsFor(b.store, b.temporal, b.taskQueue)})
	hs := httptest.NewServer(noKey.Routes())
	t.Cleanup(hs.Close)
	nb := &testBundle{api: hs, store: b.store, temporal: b.temporal, databaseURL: b.databaseURL, taskQueue: b.taskQueue}
	code, body = nb.raw(t, http.MethodPost, "/api/v1/environments", tlsBody("nokey-"+uuid.NewString()[:8], tcp, paused, m))
	if code != 400 || !strings.Contains(body, "tls_unavailable") || !strings.Contains(body, "WINDFLOW_SECRET_KEY") {
		t.Fatalf("TLS without a key: %d %s", code, body)
	}
	secrets.check(t, "no-key answer", []byte(body))
	var nilBox *secretbox.Box
	noKey2 := api.NewTestServer(t, api.Config{}, api.Deps{Store: b.store, Secrets: nilBox, Flows: api.FlowsFor(b.store, b.temporal, b.taskQueue)})
	hs2 := httptest.NewServer(noKey2.Routes())
	t.Cleanup(hs2.Close)
	nb2 := &testBundle{api: hs2}
	if code, body := nb2.raw(t, http.MethodPost, "/api/v1/environments", tlsBody("nokey2-"+uuid.NewString()[:8], tcp, paused, m)); code != 400 || !strings.Contains(body, "tls_unavailable") {
		t.Fatalf("TLS with a nil *secretbox.Box: %d %s", code, body)
	}
	plain := nb.createEnvironmentWith(t, "plain-"+uuid.NewString()[:8], enginetest.Endpoint(), paused)
	if plain.ID == "" {
		t.Fatal("a server without a key does not create plain environments")
	}
	secrets.check(t, "API logs", []byte(b.logs.String()))
}

// Package crm hands a dealership's events to its CRM: signed JSON webhooks (Stripe's scheme)
// and ADF 1.0 XML by e-mail. The events table is the outbox: a Service on every node tails each
// organization's events through the Store (one node per organization at a time, by lease),
// turns them into integration events (lead.created, message.received, …) and commits their
// deliveries together with the feed's new position; then it claims due deliveries (one node per
// delivery), attempts them and reschedules failures with exponential backoff and jitter.
package crm

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// Config tunes a Service. Zero fields take the defaults.
type Config struct {
	// Poll is how often a node looks for new events and due deliveries. Defaults to 1 s, so the
	// first attempt comes within seconds of the change.
	Poll time.Duration
	// Timeout bounds one attempt; a 2xx within it is success. Defaults to 10 s.
	Timeout time.Duration
	// RetryBase is the first retry's nominal gap; each next gap doubles, up to RetryMax, and the
	// actual gap is drawn from [gap/2, gap]. Defaults to 30 s and 1 h.
	RetryBase, RetryMax time.Duration
	// RetryFor is how long a delivery keeps being retried (by its nominal schedule) before it is
	// marked failed. Defaults to 24 h.
	RetryFor time.Duration
	// FeedLease is how long a node holds an organization's feed without renewing it (renewed
	// every Poll). Defaults to 15 s.
	FeedLease time.Duration
	// AllowPrivate lets webhooks reach loopback, private and link-local addresses (tests,
	// on-premises CRMs): JACK_WEBHOOK_ALLOW_PRIVATE=1.
	AllowPrivate bool
	// Workers bounds concurrent attempts per node. Defaults to 8.
	Workers int
	// Mailer sends ADF e-mail; nil leaves adf_email deliveries failing with "SMTP is not configured".
	Mailer *Mailer
	// Owner names this node in feed claims. Defaults to a random id.
	Owner string
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// WithDefaults returns cfg with blank fields filled.
func (cfg Config) WithDefaults() Config {
	cfg.Poll = cmp.Or(cfg.Poll, time.Second)
	cfg.Timeout = cmp.Or(cfg.Timeout, 10*time.Second)
	cfg.RetryBase = cmp.Or(cfg.RetryBase, 30*time.Second)
	cfg.RetryMax = cmp.Or(cfg.RetryMax, time.Hour)
	cfg.RetryFor = cmp.Or(cfg.RetryFor, 24*time.Hour)
	cfg.FeedLease = cmp.Or(cfg.FeedLease, 15*time.Second)
	cfg.Workers = cmp.Or(cfg.Workers, 8)
	cfg.Owner = cmp.Or(cfg.Owner, uuid.NewString())
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// Service dispatches and delivers integration events. Safe for concurrent use.
type Service struct {
	store  jack.Store
	cfg    Config
	log    *slog.Logger
	client *http.Client

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Service over store; log nil discards.
func New(store jack.Store, cfg Config, log *slog.Logger) *Service {
	cfg = cfg.WithDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, cfg: cfg, log: log, client: NewHTTPClient(cfg.Timeout, cfg.AllowPrivate)}
}

// AllowPrivate reports whether webhooks may reach private addresses (the API checks URLs with it).
func (s *Service) AllowPrivate() bool { return s.cfg.AllowPrivate }

// Start runs the dispatch and delivery loops until Close.
func (s *Service) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		ticker := time.NewTicker(s.cfg.Poll)
		defer ticker.Stop()
		for {
			s.Step(ctx)
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
}

// Close stops the loops and waits for attempts in flight. Safe to call twice or unstarted.
func (s *Service) Close() error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	return nil
}

// Step dispatches the new events of the feeds this node holds, then attempts the due
// deliveries. The loop calls it every Poll; tests call it directly.
func (s *Service) Step(ctx context.Context) {
	if err := s.Dispatch(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("dispatch integration events", "err", err)
	}
	if err := s.Deliver(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("deliver integration events", "err", err)
	}
}

// Dispatch claims the organizations' feeds and turns their new events into deliveries.
func (s *Service) Dispatch(ctx context.Context) error {
	feeds, err := s.store.ClaimIntegrationFeeds(ctx, s.cfg.Owner, s.cfg.Now(), s.cfg.FeedLease, 0)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range feeds {
		for {
			more, err := s.dispatchFeed(ctx, f)
			if err != nil {
				errs = append(errs, fmt.Errorf("organization %s: %w", f.OrganizationID, err))
				break
			}
			if !more {
				break
			}
		}
	}
	return errors.Join(errs...)
}

const dispatchBatch = 200

// dispatchFeed dispatches one batch of f's events and moves f; more reports a full batch.
func (s *Service) dispatchFeed(ctx context.Context, f *jack.IntegrationFeed) (more bool, err error) {
	events, err := s.store.FindEvents(ctx, f.OrganizationID, jack.EventFilter{After: f.After, Limit: dispatchBatch})
	if err != nil || len(events) == 0 {
		return false, err
	}
	integrations, err := s.store.FindIntegrations(ctx, f.OrganizationID)
	if err != nil {
		return false, err
	}
	d, err := s.plan(ctx, f, events, integrations)
	if err != nil {
		return false, err
	}
	if err := s.store.CommitIntegrationDispatch(ctx, f.OrganizationID, d); err != nil {
		return false, err
	}
	f.After = d.To
	return len(events) == dispatchBatch, nil
}

// Deliver claims due deliveries and attempts them, Workers at a time.
func (s *Service) Deliver(ctx context.Context) error {
	// The claim outlives one attempt (Timeout) with a margin; a node killed mid-attempt holds
	// its deliveries no longer than this.
	lease := s.cfg.Timeout + 5*time.Second
	ds, err := s.store.ClaimDueDeliveries(ctx, s.cfg.Now(), lease, 4*s.cfg.Workers)
	if err != nil {
		return err
	}
	sem := make(chan struct{}, s.cfg.Workers)
	var wg sync.WaitGroup
	for _, d := range ds {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.attempt(context.WithoutCancel(ctx), d)
		}()
	}
	wg.Wait()
	return nil
}

// attempt sends d once and records the outcome with its next try, if any.
func (s *Service) attempt(ctx context.Context, d *jack.IntegrationDelivery) {
	res := s.send(ctx, d)
	a := jack.DeliveryAttempt{At: s.cfg.Now(), Succeeded: res.Err == nil, LatencyMillis: res.Latency.Milliseconds()}
	if res.StatusCode != 0 {
		a.ResponseCode = &res.StatusCode
	}
	if res.Err != nil {
		a.Error = res.Err.Error()
		if gap, ok := s.retryAfter(d.Attempts + 1); ok {
			next := a.At.Add(gap)
			a.NextAttemptAt = &next
		}
	}
	rec, err := s.store.RecordDeliveryAttempt(ctx, d.OrganizationID, d.ID, a)
	log := s.log.With("org_id", d.OrganizationID, "integration_id", d.IntegrationID, "event_id", d.EventID,
		"event_type", d.EventType)
	switch {
	case err != nil:
		log.Warn("record delivery attempt", "err", err)
	case rec.Status == jack.DeliveryFailed:
		log.Warn("integration delivery failed for good", "attempts", rec.Attempts, "err", a.Error)
	case res.Err != nil:
		log.Info("integration delivery will be retried", "attempts", rec.Attempts, "next_attempt_at", rec.NextAttemptAt, "err", a.Error)
	}
}

// retryAfter returns the gap before attempt n+1 after n failed attempts, and false when the
// nominal schedule (RetryBase doubling up to RetryMax) has used up RetryFor.
func (s *Service) retryAfter(n int) (time.Duration, bool) {
	var elapsed, gap time.Duration
	for k := 1; k <= n; k++ {
		gap = s.nominalGap(k)
		elapsed += gap
	}
	if elapsed > s.cfg.RetryFor {
		return 0, false
	}
	return gap/2 + rand.N(gap/2+1), true //nolint:gosec // the jitter of a retry delay needs no secrecy
}

// nominalGap is the k-th retry's gap before jitter.
func (s *Service) nominalGap(k int) time.Duration {
	gap := s.cfg.RetryBase
	for i := 1; i < k && gap < s.cfg.RetryMax; i++ {
		gap *= 2
	}
	return min(gap, s.cfg.RetryMax)
}

// send makes one attempt at d through its integration.
func (s *Service) send(ctx context.Context, d *jack.IntegrationDelivery) Result {
	i, err := s.store.FindIntegrationByID(ctx, d.OrganizationID, d.IntegrationID)
	if err != nil {
		return Result{Err: fmt.Errorf("integration: %w", err)}
	}
	return s.Send(ctx, i, d.EventID.String(), d.EventType, d.Payload)
}

// Send makes one attempt at delivering payload (an event document) through i: a signed POST,
// or an ADF e-mail. The test route uses it directly.
func (s *Service) Send(ctx context.Context, i *jack.Integration, eventID, eventType string, payload []byte) Result {
	if !i.Enabled {
		return Result{Err: errors.New("the integration is disabled")}
	}
	switch i.Kind {
	case jack.IntegrationWebhook:
		if err := CheckURL(ctx, i.URL, s.cfg.AllowPrivate); err != nil {
			return Result{Err: errors.New("the URL resolves to a loopback, private or link-local address")}
		}
		return postWebhook(ctx, s.client, i, eventID, eventType, payload, s.cfg.Now())
	case jack.IntegrationADFEmail:
		return s.sendADF(ctx, i, eventID, eventType, payload)
	}
	return Result{Err: fmt.Errorf("unknown integration kind %q", i.Kind)}
}

// CheckWebhookURL refuses a URL that is not http(s) or that resolves to a loopback, private or
// link-local address (unless AllowPrivate): EUNPROCESSABLE naming the field url.
func (s *Service) CheckWebhookURL(ctx context.Context, url string) error {
	return CheckURL(ctx, url, s.cfg.AllowPrivate)
}

// TestIntegration sends i one integration.test event about a sample lead now, outside the
// outbox, and reports the response code, the latency and the failure if any.
func (s *Service) TestIntegration(ctx context.Context, i *jack.Integration) (int, time.Duration, error) {
	now := s.cfg.Now().UTC()
	lead := jack.NewLead(i.OrganizationID, "Test Customer", "+12025550143", now)
	lead.Email, lead.VehiclePreference = "test.customer@example.com", "2024 Honda Civic"
	doc := Document{ID: uuid.Must(uuid.NewV7()), Type: jack.IntegrationTest, CreatedAt: now, OrganizationID: i.OrganizationID,
		Data: EventData{Lead: lead, Summary: "A test event from Jack: no action needed."}}
	body, err := json.Marshal(doc)
	if err != nil {
		return 0, 0, err
	}
	test := *i
	test.Enabled = true // a paused integration can still be tried
	res := s.Send(ctx, &test, doc.ID.String(), doc.Type, body)
	return res.StatusCode, res.Latency, res.Err
}

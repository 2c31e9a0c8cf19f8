package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/twilio"
)

// runSimulate plays a customer: `jack simulate sms --to <dealership number> --from <customer>
// "text"` signs an incoming-message webhook exactly as Twilio would (with TWILIO_AUTH_TOKEN, or
// the token the embedded default generated under the data dir) and posts it to the server.
// The server is SERVER_URL, else http://localhost:<PORT> (3001), the URL `jack serve` checks
// signatures against when SERVER_URL is unset: run simulate with the server's environment and
// in its directory and it just works; otherwise the errors say which of the three differs.
func runSimulate(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "sms" {
		return errors.New(`usage: jack simulate sms --to <dealership number> --from <customer number> "text"`)
	}
	fs := flag.NewFlagSet("simulate sms", flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.String("to", "", "the dealership's number the customer texts (E.164, or national in --region)")
	from := fs.String("from", "", "the customer's number")
	region := fs.String("region", jack.DefaultRegion, "region for national-format numbers")
	server := fs.String("server", defaultServerURL(cfg), "base URL of the running server, as its SERVER_URL says (defaults to SERVER_URL, else http://localhost:<PORT>)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	text := strings.Join(fs.Args(), " ")
	toE164, err := jack.NormalizePhone(*to, *region)
	if err != nil {
		return fmt.Errorf("--to: %s", jack.ErrorMessage(err))
	}
	fromE164, err := jack.NormalizePhone(*from, *region)
	if err != nil {
		return fmt.Errorf("--from: %s", jack.ErrorMessage(err))
	}
	if strings.TrimSpace(text) == "" {
		return errors.New("the text to send is missing")
	}
	base := strings.TrimRight(*server, "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--server: %q is not a URL like http://localhost:3001", *server)
	}
	token, err := simulatorToken(cfg)
	if err != nil {
		return err
	}
	params := twilio.InboundSMSParams(cfg.TwilioAccountSID, fromE164, toE164, text, "")
	webhook := base + "/api/webhooks/twilio/sms/incoming"
	resp, err := twilio.PostInboundSMS(ctx, webhook, token, params)
	if err != nil {
		return fmt.Errorf("cannot reach the server at %s (is `jack serve` running there? --server sets the URL): %w", base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("the server at %s refused the webhook's signature. It checks it against its own SERVER_URL "+
			"(default http://localhost:<PORT>) with its TWILIO_AUTH_TOKEN (the embedded default generates one under its data dir): "+
			"give --server exactly the server's SERVER_URL, and run simulate with the server's TWILIO_AUTH_TOKEN or JACK_DATA_DIR", base)
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("the server at %s knows no dealership number %s: add it first (README, \"Try it\")", base, toE164)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("server answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "delivered %s from %s to %s; the assistant answers after its debounce (see the dashboard or the lead's messages)\n",
		params.Get("MessageSid"), fromE164, toE164)
	return nil
}

// defaultServerURL is where `jack serve` with the same environment listens and what it checks
// signatures against: SERVER_URL, else http://localhost:<port of JACK_ADDR or PORT>.
func defaultServerURL(cfg Config) string {
	if cfg.ServerURL != "" {
		return cfg.ServerURL
	}
	port := "3001"
	if i := strings.LastIndex(cfg.Addr, ":"); i >= 0 && cfg.Addr[i+1:] != "" {
		port = cfg.Addr[i+1:]
	}
	return "http://localhost:" + port
}

// simulatorToken is the token the server signs Twilio's webhooks with: TWILIO_AUTH_TOKEN, or the
// one the embedded default generated under its data dir. It only reads: simulate never creates
// a data dir of its own.
func simulatorToken(cfg Config) (string, error) {
	if cfg.TwilioAuthToken != "" {
		return cfg.TwilioAuthToken, nil
	}
	if !cfg.Embedded() {
		return "", errors.New("TWILIO_AUTH_TOKEN is required to sign the webhook (the server's own token)")
	}
	path := filepath.Join(cfg.DataDir, "twilio_auth_token")
	token, err := readSecret(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("no token at %s to sign the webhook with: start `jack serve` first (it generates one in its data dir), "+
			"run simulate from the same directory or with its JACK_DATA_DIR, or set TWILIO_AUTH_TOKEN", path)
	}
	return token, err
}

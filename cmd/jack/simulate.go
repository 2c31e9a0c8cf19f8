package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/twilio"
)

// runSimulate plays a customer: `jack simulate sms --to <dealership number> --from <customer>
// "text"` signs an incoming-message webhook exactly as Twilio would (with TWILIO_AUTH_TOKEN, or
// the token the embedded default generated under the data dir) and posts it to the server.
func runSimulate(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "sms" {
		return errors.New(`usage: jack simulate sms --to <dealership number> --from <customer number> "text"`)
	}
	fs := flag.NewFlagSet("simulate sms", flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.String("to", "", "the dealership's number the customer texts (E.164, or national in --region)")
	from := fs.String("from", "", "the customer's number")
	region := fs.String("region", jack.DefaultRegion, "region for national-format numbers")
	server := fs.String("server", cfg.ServerURL, "base URL of the running server (defaults to SERVER_URL)")
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
	token := cfg.TwilioAuthToken
	if token == "" {
		m := NewMain(cfg, nil)
		if !cfg.Embedded() {
			return errors.New("TWILIO_AUTH_TOKEN is required to sign the webhook")
		}
		if err := m.loadSecrets(); err != nil {
			return err
		}
		token = m.Config.TwilioAuthToken
	}
	params := twilio.InboundSMSParams(cfg.TwilioAccountSID, fromE164, toE164, text, "")
	url := strings.TrimRight(*server, "/") + "/api/webhooks/twilio/sms/incoming"
	resp, err := twilio.PostInboundSMS(ctx, url, token, params)
	if err != nil {
		return fmt.Errorf("post webhook to %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "delivered %s from %s to %s; the assistant answers after its debounce (see the dashboard or the lead's messages)\n",
		params.Get("MessageSid"), fromE164, toE164)
	return nil
}

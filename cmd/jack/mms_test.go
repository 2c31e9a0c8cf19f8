package main

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/providers/fake"
)

// getRaw sends an authenticated GET and returns the answer with its body read.
func (c *client) getRaw(path string) (*http.Response, []byte) {
	c.tb.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	require.NoError(c.tb, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.tb, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.tb, err)
	return resp, body
}

// TestMain_MMS: an inbound MMS through the signed Twilio webhook is stored with its media,
// listed on the timeline, served through the media proxy to its own organization only, and a
// staff send with mediaUrls reaches Twilio as MediaUrl parameters; on the embedded default and
// on Postgres.
func TestMain_MMS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"Embedded", func(t *testing.T) map[string]string { return nil }},
		{"Postgres", func(t *testing.T) map[string]string {
			return map[string]string{"DATABASE_URL": postgrestest.URL(t), "JWT_SECRET": strings.Repeat("m", 40)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newSMSBundle(t, tc.env(t))
			customer := "+16045550188"
			front, side := []byte("\xff\xd8\xff\xe0 front of the trade-in"), []byte("\x89PNG side of the trade-in")
			media := []jack.MessageMedia{
				{URL: b.twilio.AddMedia("image/jpeg", front), ContentType: "image/jpeg"},
				{URL: b.twilio.AddMedia("image/png", side), ContentType: "image/png"},
			}
			params := b.twilio.InboundMMSParams(customer, b.orgPhone, "Here's my trade-in", media[0].URL, media[1].URL)
			resp := b.twilio.PostWebhook(t, b.m.URL()+"/api/webhooks/twilio/sms/incoming", params)
			require.Equal(t, http.StatusOK, resp.StatusCode)

			lead := b.lead(t, customer)
			msgs := b.messages(t, lead.ID)
			i := slices.IndexFunc(msgs, func(m jack.Message) bool { return m.ProviderMessageID == params.Get("MessageSid") })
			require.GreaterOrEqual(t, i, 0, "the MMS is on the timeline")
			mms := msgs[i]
			require.Equal(t, "Here's my trade-in", mms.Content)
			require.Equal(t, media, mms.Media, "both attachments stored, in order, with their types")

			for n, want := range [][]byte{front, side} {
				resp, body := b.owner.getRaw("/api/messages/" + mms.ID.String() + "/media/" + strconv.Itoa(n))
				require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
				require.Equal(t, want, body)
				require.Equal(t, media[n].ContentType, resp.Header.Get("Content-Type"))
				require.Equal(t, "private, max-age=300", resp.Header.Get("Cache-Control"))
				require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			}
			for _, r := range b.twilio.MediaRequests() {
				require.Empty(t, r.Authorization, "Twilio's CDN never sees the account's credentials")
			}

			other, _ := register(t, b.m.URL(), "other@mms.test")
			resp, body := other.getRaw("/api/messages/" + mms.ID.String() + "/media/0")
			require.Equal(t, http.StatusNotFound, resp.StatusCode, "another organization's token gets 404")
			require.NotContains(t, string(body), string(front))
			resp, _ = b.owner.getRaw("/api/messages/" + mms.ID.String() + "/media/2")
			require.Equal(t, http.StatusNotFound, resp.StatusCode)

			urls := []string{"https://dealer.example.com/offer.jpg", "https://dealer.example.com/brochure.pdf"}
			b.owner.must("POST", "/api/twilio/send-sms", map[string]any{"leadId": lead.ID, "message": "Here's our offer", "mediaUrls": urls}, http.StatusCreated, nil)
			var sent fake.TwilioMessage
			waitFor(t, "the MMS at Twilio", func() bool {
				for _, m := range b.twilio.Messages() {
					if len(m.MediaURLs) > 0 {
						sent = m
						return true
					}
				}
				return false
			})
			require.Equal(t, urls, sent.Form["MediaUrl"])
			require.Equal(t, "Here's our offer", sent.Body)
			require.Equal(t, customer, sent.To)
		})
	}
}

// TestMain_MediaNotConfigured: without a Twilio account the media route answers 503.
func TestMain_MediaNotConfigured(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, nil)
	c, _ := register(t, m.URL(), "owner@nomedia.test")
	resp, body := c.getRaw("/api/messages/0190a0a0-0000-7000-8000-000000000000/media/0")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, string(body), "media_not_configured")
}

// TestBrowser_MMS: the dashboard shows a customer's MMS photo as a thumbnail loaded through the
// media proxy with the bearer token (and opens it large), other attachments as a download
// chip, the lead's score as a chip, and sorts the list best first.
func TestBrowser_MMS(t *testing.T) {
	t.Parallel()
	chromiumPath(t)
	dir := os.Getenv("JACK_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))

	sms := newSMSBundle(t, nil)
	customer := "+16045550166"
	var photo bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{R: 200, G: 30, B: 40, A: 255}), image.Point{}, draw.Src)
	require.NoError(t, png.Encode(&photo, img))
	params := sms.twilio.InboundMMSParams(customer, sms.orgPhone, "Here's my trade-in",
		sms.twilio.AddMedia("image/png", photo.Bytes()), sms.twilio.AddMedia("application/pdf", []byte("%PDF-1.4 registration")))
	require.Equal(t, http.StatusOK, sms.twilio.PostWebhook(t, sms.m.URL()+"/api/webhooks/twilio/sms/incoming", params).StatusCode)
	lead := sms.lead(t, customer)
	require.NotNil(t, lead.LeadQualityScore, "the conversation scored the lead")

	b := newBrowser(t)
	b.do("sign in",
		chromedp.Navigate(sms.m.URL()+"/"),
		chromedp.WaitVisible(chromedp.ID("login-email")),
		chromedp.SendKeys(chromedp.ID("login-email"), "owner@sms.test"),
		chromedp.SendKeys(chromedp.ID("login-password"), "correct horse"),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	item := `document.querySelector('a.lead-item[data-lead-id=` + jsString(t, lead.ID) + `]')`
	b.waitJS("the lead's score chip", `/^Score \d+$/.test(`+item+`?.querySelector(".chip-score")?.textContent || "")`)
	b.do("sort best first", chromedp.Evaluate[chromedp.Void](`(s => { s.value = "score"; s.dispatchEvent(new Event("change")); })(document.querySelector("#lead-sort"))`))
	b.waitJS("the list sorted by score", `document.querySelector("#lead-sort").value === "score" && !!`+item)

	b.do("open the lead", chromedp.Evaluate[chromedp.Void](`location.hash = "#/leads/`+lead.ID+`"`))
	b.waitJS("the photo thumbnail", `(i => i && i.src.startsWith("data:image/png") && i.complete && i.naturalWidth === 64)(document.querySelector("#timeline img.media-img"))`)
	b.waitJS("the PDF chip", `[...document.querySelectorAll("#timeline button.media-chip")].some(c => c.textContent === "PDF 2 of 2")`)
	b.screenshot(dir, "mms.png")
	b.do("open the photo", chromedp.Click(chromedp.CSS("#timeline button.media-thumb")))
	b.waitJS("the photo large", `(d => d && d.open && d.querySelector("img").naturalWidth === 64)(document.querySelector("dialog.lightbox"))`)
	b.screenshot(dir, "mms-lightbox.png")
	b.do("close the photo", chromedp.Click(chromedp.CSS("dialog.lightbox .btn-primary")))
	b.waitJS("the dialog gone", `!document.querySelector("dialog.lightbox")`)

	b.mu.Lock()
	defer b.mu.Unlock()
	require.Empty(t, b.exceptions, "the page threw")
}

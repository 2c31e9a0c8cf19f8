package http

import (
	"bytes"
	"context"
	"io"
	"mime"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// MediaFetcher downloads MMS attachments from the provider with the account's credentials
// (twilio.Client). FetchMedia returns ENOTFOUND when the provider does not have the media, and
// EPROVIDER when it refuses or cannot be reached; size is -1 when unknown.
type MediaFetcher interface {
	FetchMedia(ctx context.Context, url string) (body io.ReadCloser, contentType string, size int64, err error)
}

// DefaultMediaMaxBytes bounds an attachment the media route passes on (Twilio accepts 5 MB).
const DefaultMediaMaxBytes = 10 << 20

// inlineMedia are the content types a browser may show in place; anything else is a download.
var inlineMedia = []string{"image/", "video/", "audio/", "application/pdf", "text/vcard"}

// mediaExtensions name downloads; a fixed table, because the system's MIME database differs
// between machines.
var mediaExtensions = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp", "image/heic": ".heic",
	"video/mp4": ".mp4", "video/3gpp": ".3gp", "video/quicktime": ".mov", "audio/mpeg": ".mp3", "audio/amr": ".amr",
	"audio/ogg": ".ogg", "application/pdf": ".pdf", "text/vcard": ".vcf", "text/x-vcard": ".vcf",
}

// messageMedia serves attachment n of a message of the caller's organization, fetched from the
// provider with the account's credentials (the provider's URL needs them, so the browser cannot
// load it itself). Another organization's message, like a missing one or an index out of
// range, is 404. The attachment is cached privately for five minutes, never sniffed, and shown
// inline only for media types a browser displays safely; the sandbox policy keeps an SVG or
// HTML attachment from running script on this origin.
func (s *Server) messageMedia(c *fiber.Ctx) error {
	if s.cfg.Media == nil {
		return jack.ReasonErrorf(jack.EUNAVAILABLE, "media_not_configured", "Attachments cannot be fetched: no messaging provider is configured.")
	}
	id, errID := uuid.Parse(c.Params("id"))
	n, errN := strconv.Atoi(c.Params("n"))
	if errID != nil || errN != nil || n < 0 {
		return jack.Errorf(jack.ENOTFOUND, "Attachment not found.")
	}
	ctx := c.UserContext()
	m, err := s.store.FindMessage(ctx, principal(c).OrganizationID, id)
	if err != nil {
		return err
	}
	if n >= len(m.Media) {
		return jack.Errorf(jack.ENOTFOUND, "Attachment not found.")
	}
	media := m.Media[n]
	body, fetchedType, size, err := s.cfg.Media.FetchMedia(ctx, media.URL)
	if err != nil {
		return err
	}
	if size > s.cfg.MediaMaxBytes {
		body.Close()
		return s.errMediaTooLarge()
	}

	contentType := mediaType(media.ContentType, fetchedType)
	disposition := "attachment"
	for _, prefix := range inlineMedia {
		if strings.HasPrefix(contentType, prefix) {
			disposition = "inline"
		}
	}
	c.Set(fiber.HeaderContentType, contentType)
	c.Set(fiber.HeaderContentDisposition, mime.FormatMediaType(disposition,
		map[string]string{"filename": "attachment-" + strconv.Itoa(n+1) + mediaExtensions[contentType]}))
	c.Set(fiber.HeaderCacheControl, "private, max-age=300")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; style-src 'unsafe-inline'; sandbox")

	if size >= 0 {
		// Streamed: fasthttp reads exactly size bytes and closes body when the answer is sent.
		c.Context().SetBodyStream(body, int(size))
		return nil
	}
	// Unknown length: read up to the limit first, so an oversized attachment is a clean 502
	// rather than a truncated answer.
	defer body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(body, s.cfg.MediaMaxBytes+1)); err != nil {
		return jack.Errorf(jack.EPROVIDER, "The attachment could not be read from the provider.")
	}
	if int64(buf.Len()) > s.cfg.MediaMaxBytes {
		return s.errMediaTooLarge()
	}
	return c.Send(buf.Bytes())
}

func (s *Server) errMediaTooLarge() error {
	return jack.ReasonErrorf(jack.EPROVIDER, "media_too_large", "The attachment is larger than %s.", byteSize(int(s.cfg.MediaMaxBytes)))
}

// mediaType is the stored content type (what the webhook said), else the provider's answer,
// else application/octet-stream; parameters are dropped and an unparsable type is a download.
func mediaType(stored, fetched string) string {
	for _, v := range []string{stored, fetched} {
		if mt, _, err := mime.ParseMediaType(v); err == nil && strings.Contains(mt, "/") {
			return mt
		}
	}
	return "application/octet-stream"
}

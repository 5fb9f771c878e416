package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/telegram"

	"github.com/windflow/monitor/internal/netpolicy"
)

// telegramAPI is the Bot API endpoint of sendMessage (token first).
const telegramAPI = "https://api.telegram.org/bot%s/sendMessage"

// telegramMaxLength is the longest text the Bot API takes, in bytes.
const telegramMaxLength = 4096

// sendTelegram sends to every chat of cfg as shoutrrr's telegram service
// would (same payload), but through hc bound to ctx: shoutrrr's uses
// http.DefaultClient and reports a failed connection as a success.
func sendTelegram(ctx context.Context, hc *http.Client, cfg telegram.Config, title, message string) error {
	if len(message) > telegramMaxLength {
		return fmt.Errorf("telegram: message longer than %d bytes", telegramMaxLength)
	}
	if title != "" {
		cfg.Title = title
	}
	for i, chat := range cfg.Chats {
		body, err := json.Marshal(telegramPayload(message, chat, &cfg))
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf(telegramAPI, cfg.Token), bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("creating the request: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		if err := telegramDo(hc, req); err != nil {
			return fmt.Errorf("telegram chat %d: %w", i+1, err)
		}
	}
	return nil
}

// telegramDo sends req and checks the Bot API's answer.
func telegramDo(hc *http.Client, req *http.Request) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseRead))
	var answer struct {
		OK          bool   `json:"ok"`
		Description string `json:"description"`
	}
	if json.Unmarshal(raw, &answer) == nil && answer.OK && resp.StatusCode < http.StatusBadRequest {
		return nil
	}
	return fmt.Errorf("%w %s: %s", errWebhookStatus, netpolicy.RemoteText(resp.Status), netpolicy.RemoteText(answer.Description))
}

// telegramPayload is shoutrrr's sendMessage payload for chat
// ("id" or "id:thread").
func telegramPayload(message, chat string, cfg *telegram.Config) telegram.SendMessagePayload {
	chatID, thread, hasThread := strings.Cut(chat, ":")
	payload := telegram.SendMessagePayload{
		Text:                message,
		ID:                  chatID,
		DisableNotification: !cfg.Notification,
		DisablePreview:      !cfg.Preview,
	}
	if n, err := strconv.Atoi(thread); hasThread && err == nil {
		payload.MessageThreadID = &n
	}
	mode := cfg.ParseMode
	if mode == telegram.ParseModes.None && cfg.Title != "" {
		mode = telegram.ParseModes.HTML
		message = html.EscapeString(message)
	}
	if mode != telegram.ParseModes.None {
		payload.ParseMode = mode.String()
	}
	if mode == telegram.ParseModes.HTML {
		payload.Text = fmt.Sprintf("<b>%v</b>\n%v", html.EscapeString(cfg.Title), message)
	}
	return payload
}

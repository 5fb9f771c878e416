package notify

import (
	"errors"
	"strings"
	"testing"
)

// secret is the token the invalid-URL tests hide in their URLs.
const secret = "SeCrEt-T0ken-42xyz"

func TestValidateURLAccepts(t *testing.T) {
	// Examples from shoutrrr's service docs (v0.13.2).
	valid := []string{
		"ntfy://ntfy.sh/mytopic",
		"ntfy://username:password@ntfy.sh/privatetopic",
		"ntfy://my-ntfy-server.com:8080/mytopic",
		"ntfy://ntfy.sh/alerts/?priority=5&tags=warning,fire&title=System+Alert",
		"discord://token@webhookid",
		"discord://W3dE2OZz4C13_4z_uHfDOoC7BqTW288s-z1ykqI0iJnY_HjRqMGO8Sc7YDqvf_KVKjhJ@693853386302554172?thread_id=123456789",
		"generic://api.example.com/webhook?template=json",
		"generic://webhook.example.com/alert?template=json&disabletls=yes&method=POST&titlekey=alert_title&messagekey=alert_message",
		"generic://127.0.0.1:8080/hook?disabletls=yes",
		"generic+https://example.com/api/v1/postStuff",
		"generic+http://127.0.0.1:8080/hook",
		"slack://hook:WNA3PBYV6-F20DUQND3RQ-Webc4MAvoacrpPakR8phF0zi@webhook?color=good&title=Great+News&icon=man-scientist&botname=Shoutrrrbot",
		"slack://xoxb:123456789012-1234567890123-4mt0t4l1YL3g1T5L4cK70k3N@C001CH4NN3L",
		"smtp://user:password@example.com:587/?fromAddress=sender@example.com&toAddresses=recipient@example.com&subject=Test%20Notification&useStartTLS=yes&useHTML=no",
		"telegram://110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@telegram?chats=-100123456789",
		"telegram://110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@telegram?channels=@mychannel",
		"matrix://user:pass@matrix.example.com/?rooms=!room", // parsed only: no login
		"NTFY://ntfy.sh/mytopic",
	}
	for _, u := range valid {
		if err := ValidateURL(u); err != nil {
			t.Errorf("ValidateURL(%q) = %v, want nil", u, err)
		}
	}
}

func TestValidateURLRejects(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want string // in the error text
	}{
		{"empty", "", "empty"},
		{"blank", "   ", "empty"},
		{"garbage", "garbage " + secret, "expected service://"},
		{"opaque", "ntfy:" + secret, "expected service://"},
		{"bad escape", "ntfy://ntfy.sh/%zz" + secret, "not a URL"},
		{"control character", "ntfy://ntfy.sh/" + secret + "\n", "not a URL"},
		{"unknown scheme", "https://example.com/" + secret + "?token=" + secret, `unknown service "https"`},
		{"unknown scheme with userinfo", "foo://user:" + secret + "@example.com/", `unknown service "foo"`},
		{"too long", "ntfy://ntfy.sh/" + secret + strings.Repeat("a", MaxURLLength), "longer than 2048"},
		{"ntfy without topic", "ntfy://:" + secret + "@ntfy.sh", "topic is required"},
		{"ntfy bad priority", "ntfy://ntfy.sh/topic?priority=" + secret, "ntfy configuration"},
		{"telegram bad token", "telegram://" + secret + "@telegram?chats=1", "telegram"},
		{"telegram no chats", "telegram://110201543:" + secret + "@telegram", "no channels"},
		{"discord no id", "discord://" + secret + "@", "webhook ID"},
		{"slack bad token", "slack://" + secret, "slack token"},
		{"smtp no from", "smtp://user:" + secret + "@example.com:587/", "fromAddress"},
		{"generic no host", "generic:///" + secret, "needs a host"},
		{"generic+ftp", "generic+ftp://example.com/" + secret, "http and https"},
		{"generic custom template", "generic://example.com/hook?template=" + secret, "template"},
		{"generic bad disabletls", "generic://example.com/hook?disabletls=" + secret, "generic configuration"},
		{"matrix empty room (shoutrrr panics)", "matrix://user:" + secret + "@matrix.example.com/?rooms=", "matrix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateURL(tt.url)
			if err == nil {
				t.Fatal("ValidateURL = nil, want an error")
			}
			if !errors.Is(err, ErrInvalidURL) {
				t.Errorf("error %v does not wrap ErrInvalidURL", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q lacks %q", msg, tt.want)
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, strings.ToLower(secret)) ||
				(len(tt.url) > 10 && strings.Contains(msg, tt.url)) {
				t.Errorf("error %q leaks the URL or its secret", msg)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"ntfy://ntfy.sh/mytopic", "ntfy://ntfy.sh/***"},
		{"ntfy://user:" + secret + "@ntfy.sh/topic?title=" + secret, "ntfy://ntfy.sh/***"},
		{"generic://127.0.0.1:8080/hook/" + secret + "?disabletls=yes&token=" + secret, "generic://127.0.0.1:8080/***"},
		{"generic+https://example.com/api?key=" + secret, "generic+https://example.com/***"},
		{"discord://" + secret + "@693853386302554172", "discord://***/***"},
		{"telegram://110201543:" + secret + "@telegram?chats=1", "telegram://***/***"},
		{"smtp://user:" + secret + "@mail.example.com:587/?fromAddress=a@example.com", "smtp://mail.example.com:587/***"},
		{"slack://" + secret + "/yyyy/zzzz", "slack://***/***"},
		{"slack://hook:" + secret + "@webhook", "slack://***/***"},
		{"pushbullet://" + secret + "/device", "pushbullet://***/***"},
		{"ifttt://" + secret + "/?events=a", "ifttt://***/***"},
		{"wecom://" + secret, "wecom://***/***"},
		{"notifiarr://" + secret, "notifiarr://***/***"},
		{"pushover://shoutrrr:" + secret + "@" + secret + "/", "pushover://***/***"},
		{"newservice://" + secret + "/x", "newservice://***/***"},
		{"http://[::1]:9000/x#" + secret, "http://[::1]:9000/***"},
		{"", "(invalid URL)"},
		{"garbage", "(invalid URL)"},
		{"ntfy:" + secret, "(invalid URL)"},
		{"ntfy://ntfy.sh/%zz" + secret, "(invalid URL)"},
		{"://" + secret, "(invalid URL)"},
	}
	for _, tt := range tests {
		got := RedactURL(tt.in)
		if got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, secret) {
			t.Errorf("RedactURL(%q) leaks the secret: %q", tt.in, got)
		}
	}
}

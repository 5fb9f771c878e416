package notify

import (
	"strings"
	"testing"
)

func TestScrubSecrets(t *testing.T) {
	tests := []struct {
		name, text, url string
		want            string // exact result, "" = only check leaks
	}{
		{"embedded request URL",
			`failed to send notification to generic webhook: sending HTTP request: Post "http://127.0.0.1:8080/hook/` + secret + `?token=` + secret + `": dial tcp 127.0.0.1:8080: connect: connection refused`,
			"generic://127.0.0.1:8080/hook/" + secret + "?disabletls=yes&token=" + secret,
			`failed to send notification to generic webhook: sending HTTP request: Post "http://127.0.0.1:8080/***": dial tcp 127.0.0.1:8080: connect: connection refused`},
		{"derived API URL", `Post "https://api.telegram.org/bot110201543:` + secret + `/sendMessage": EOF`,
			"telegram://110201543:" + secret + "@telegram?chats=1", `Post "https://api.telegram.org/***": EOF`},
		{"bare password", "auth failed for user bob with password " + secret, "smtp://bob:" + secret + "@mail.example.com/",
			"auth failed for user *** with password ***"},
		{"escaped query value", "value a%2Bb%2F" + secret + " rejected", "generic://h/p?k=a%2Bb%2F" + secret, "value *** rejected"},
		{"decoded query value", "value a+b/" + secret + " rejected", "generic://h/p?k=a%2Bb%2F" + secret, "value *** rejected"},
		{"short segment only as a word", "failed to send to generic webhook at hook", "generic://h/hook",
			"failed to send to generic webhook at ***"},
		{"secret host scheme", "invalid key " + secret, "ifttt://" + secret + "/?events=a", "invalid key ***"},
		{"unparsable URL", `parse "ntfy://h/%zz` + secret + `": invalid URL escape "%zz"`, "ntfy://h/%zz" + secret,
			`parse "(invalid URL)": invalid URL escape "%zz"`},
		{"unparsable URL, part alone", "token zz" + secret + " rejected", "ntfy://h/%zz" + secret, "token *** rejected"},
		{"whole raw URL", "bad: ntfy://ntfy.sh/" + secret, "ntfy://ntfy.sh/" + secret, "bad: ntfy://ntfy.sh/***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ScrubURL(tt.text, tt.url)
			if strings.Contains(got, secret) {
				t.Fatalf("ScrubURL leaks: %q", got)
			}
			if tt.want != "" && got != tt.want {
				t.Fatalf("ScrubURL = %q\n want %q", got, tt.want)
			}
		})
	}
}

func TestReplaceWord(t *testing.T) {
	tests := []struct {
		text, word, want string
	}{
		{"hook", "hook", "***"},
		{"webhook hook hooks", "hook", "webhook *** hooks"},
		{"hookhook hook", "hook", "hookhook ***"},
		{"/hook/", "hook", "/***/"},
		{"none", "hook", "none"},
	}
	for _, tt := range tests {
		if got := replaceWord(tt.text, tt.word, "***"); got != tt.want {
			t.Errorf("replaceWord(%q, %q) = %q, want %q", tt.text, tt.word, got, tt.want)
		}
	}
}

func TestComposeBody(t *testing.T) {
	tests := []struct {
		name       string
		shown      bool
		title, msg string
		wantBody   string
		wantTitle  string
	}{
		{"service shows titles", true, "T", "M", "M", "T"},
		{"title folded into body", false, "T", "M", "T\n\nM", ""},
		{"no title", false, "", "M", "M", ""},
		{"no title, shown", true, "", "M", "M", ""},
	}
	for _, tt := range tests {
		body, params := composeBody(tt.shown, tt.title, tt.msg)
		title, _ := params.Title()
		if body != tt.wantBody || title != tt.wantTitle {
			t.Errorf("%s: composeBody = (%q, title %q), want (%q, %q)", tt.name, body, title, tt.wantBody, tt.wantTitle)
		}
	}
}

func TestCarriesTitle(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{"ntfy://ntfy.sh/topic", true},
		{"discord://token@webhookid", true},
		{"telegram://110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@telegram?chats=1", true},
		{"smtp://u:p@example.com:587/?fromAddress=a@example.com&toAddresses=b@example.com", true},
		{"generic://example.com/hook?template=json", true},
		{"generic://example.com/hook", false},
		{"generic+https://example.com/hook", false},
		{"wecom://key", false},
	}
	for _, tt := range tests {
		svc, err := locateService(tt.url, false)
		if err != nil {
			t.Fatalf("locate %q: %v", tt.url, err)
		}
		if got := carriesTitle(svc); got != tt.want {
			t.Errorf("carriesTitle(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}

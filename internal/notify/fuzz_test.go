package notify

import (
	"net/url"
	"strings"
	"testing"
)

func FuzzRedactURL(f *testing.F) {
	for _, seed := range []string{
		"ntfy://user:password123@ntfy.sh/topic?title=secret-title",
		"generic://127.0.0.1:8080/hook/abcdef123?disabletls=yes&token=abcdef123",
		"discord://tokentoken@123456789",
		"slack://aaaaaa/bbbbbb/cccccc",
		"smtp://u:p4ssw0rd!@mail.example.com:587/?fromAddress=a@example.com&toAddresses=b@example.com",
		"telegram://110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@telegram?chats=-100123456789",
		"http://[::1]:80/?q=%41%42%43%44%45%46",
		"x://a@b@c/?d=eeeeeee",
		"",
		"garbage",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := RedactURL(raw)
		if got == "(invalid URL)" {
			return
		}
		if !strings.HasSuffix(got, "/***") {
			t.Fatalf("RedactURL(%q) = %q: no /*** suffix", raw, got)
		}
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil {
			t.Fatalf("RedactURL(%q) = %q for an unparsable URL", raw, got)
		}
		// The scheme and the host are shown on purpose: a secret that is
		// also part of them cannot be hidden.
		shown := strings.ToLower(u.Scheme + "://" + u.Host)
		var secrets []string
		if u.User != nil {
			pw, _ := u.User.Password()
			secrets = append(secrets, pw, u.User.Username())
		}
		for _, values := range u.Query() {
			secrets = append(secrets, values...)
		}
		for _, s := range secrets {
			if len(s) < 6 || strings.Contains(shown, strings.ToLower(s)) {
				continue
			}
			if strings.Contains(got, s) {
				t.Fatalf("RedactURL(%q) = %q leaks %q", raw, got, s)
			}
		}
	})
}

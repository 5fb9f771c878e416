// Package notify decides which events are worth a notification, renders
// notification texts, and sends them through shoutrrr
// (github.com/nicholas-fedor/shoutrrr).
//
// Pure parts: the kinds (AllKinds, DefaultKinds, ValidKind), the
// classification of container events (Classify: OOM, health transitions,
// unexpected exits, with user-requested stops and kills filtered out), and
// the texts (EventMessage, StatusMessage, DiskMessage). The URL helpers
// treat notification URLs as secrets: ValidateURL checks a URL without
// sending and never echoes it, RedactURL shows only scheme and host, and
// Sender.Send scrubs the URL out of shoutrrr's errors.
//
// Sends obey the outbound policy (internal/netpolicy). CheckScheme refuses
// a service whose connections could not be policed; CheckTarget judges the
// server a URL names, as written and as it resolves (for the API). Every
// send dials through the policy: the service gets the policed HTTP client,
// its own client is policed in place, generic webhooks and smtp are sent
// here through the policed client or dialer bound to the send's context,
// and the services that only use the process-wide client are sent only
// when the process installed the policy's client there (see services).
//
// # Channel URLs
//
// Channels use shoutrrr's URL syntax: ntfy://ntfy.sh/topic,
// discord://token@webhookid, slack://hook:token@webhook,
// telegram://token@telegram?chats=@channel,
// smtp://user:pass@host:587/?fromaddress=…&toaddresses=…, and so on (see
// shoutrrr's service docs). RedactURL(url) is what may be shown or logged.
//
// A generic webhook receives a POST. For plain HTTP (e.g. a receiver on
// localhost) add disabletls=yes; template=json sends the title and the
// message as JSON:
//
//	generic://127.0.0.1:8080/hook?disabletls=yes&template=json
//	  → POST http://127.0.0.1:8080/hook {"message":"…","title":"…"}
//
// Without template=json the body is text/plain: the title, a blank line,
// the message. generic+http://127.0.0.1:8080/hook is the shortcut form of
// the same (plain body; its query is forwarded to the receiver). Other
// query parameters of generic:// are forwarded too, "@Name=value" adds a
// request header and "$key=value" an extra JSON field.
package notify

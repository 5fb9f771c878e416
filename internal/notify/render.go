package notify

import (
	"fmt"
	"strings"
	"time"
)

// maxErrorRunes caps the error text of an offline notification.
const maxErrorRunes = 300

// EventMessage renders a container notification: a short title and a
// message naming the environment and the container (name without Docker's
// leading '/', 12-character ID, image) plus the exit code of a die and the
// event's time. Labels and other attributes are never included: they may
// hold secrets.
func EventMessage(envName, kind string, e Event) (title, message string) {
	env := envLabel(envName)
	name := containerName(e)
	what := eventPhrase(kind, e)
	title = fmt.Sprintf("%s: %s %s", env, name, what.title)
	var b strings.Builder
	fmt.Fprintf(&b, "Container %s (ID %s, image %s) in environment %s %s.",
		name, orUnknown(shortID(e.ContainerID)), orUnknown(containerImage(e)), env, what.sentence)
	if e.TimeNano > 0 {
		fmt.Fprintf(&b, "\nTime: %s.", time.Unix(0, e.TimeNano).UTC().Format("2006-01-02 15:04:05 MST"))
	}
	return title, b.String()
}

// StatusMessage renders an environment status notification. An offline
// message includes errText (the last check's error) truncated to 300
// characters, with URL userinfo redacted.
func StatusMessage(envName string, online bool, errText string) (title, message string) {
	env := envLabel(envName)
	if online {
		return env + " is back online",
			fmt.Sprintf("Environment %s is reachable again.", env)
	}
	title = env + " is offline"
	message = fmt.Sprintf("Environment %s is offline: its Docker engine did not answer the last checks.", env)
	if errText = cleanText(redactUserinfo(errText), maxErrorRunes); errText != "" {
		message += "\nLast error: " + errText
	}
	return title, message
}

// phrase is how one kind reads in a title and in a sentence.
type phrase struct{ title, sentence string }

// eventPhrase words kind for e.
func eventPhrase(kind string, e Event) phrase {
	switch kind {
	case KindContainerOOM:
		return phrase{"ran out of memory", "ran out of memory (the kernel's OOM killer ended a process in it)"}
	case KindContainerUnhealthy:
		return phrase{"is unhealthy", "is failing its health check"}
	case KindContainerHealthy:
		return phrase{"is healthy again", "passes its health check again"}
	case KindContainerDiedUnexpectedly:
		code := exitText(e)
		return phrase{"died unexpectedly: " + code,
			"died with " + code + " although no stop, kill, restart or update was requested"}
	case KindContainerStarted:
		return phrase{"started", "started"}
	case KindContainerStopped:
		return phrase{"stopped", "was stopped"}
	}
	action := orUnknown(cleanText(e.Action, 60))
	return phrase{"event " + action, "reported the event " + action}
}

// exitText is "exit code 137 (SIGKILL)", "exit code 1" or "an unknown exit
// code".
func exitText(e Event) string {
	code, ok := exitCode(e)
	if !ok {
		return "an unknown exit code"
	}
	if sig, ok := signalNames[code-128]; ok && code > 128 {
		return fmt.Sprintf("exit code %d (%s)", code, sig)
	}
	return fmt.Sprintf("exit code %d", code)
}

// signalNames names the signals whose 128+n exit codes are common.
var signalNames = map[int]string{
	2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM",
}

// envLabel is the environment name as shown in messages.
func envLabel(envName string) string {
	if env := cleanText(envName, maxFieldRunes); env != "" {
		return env
	}
	return "(unnamed environment)"
}

// containerName is the container's name without Docker's leading '/'
// (from Name, else the name attribute), else its short ID.
func containerName(e Event) string {
	name := e.Name
	if name == "" {
		name = e.Attributes["name"]
	}
	if name = cleanText(strings.TrimLeft(cleanText(name, maxFieldRunes), "/"), maxFieldRunes); name != "" {
		return name
	}
	return orUnknown(shortID(e.ContainerID))
}

// containerImage is Image, else the image attribute.
func containerImage(e Event) string {
	if e.Image != "" {
		return cleanText(e.Image, maxFieldRunes)
	}
	return cleanText(e.Attributes["image"], maxFieldRunes)
}

// orUnknown returns s, or "unknown" when s is empty.
func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

package notify

import (
	"reflect"

	"github.com/nicholas-fedor/shoutrrr/pkg/format"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/specialized/generic"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/specialized/notifiarr"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"
)

// carriesTitle reports whether svc shows a "title" param. Most services
// have a "title" (smtp: "subject,title") config key that the param sets
// (ntfy sends it as the Title header, Discord/Slack/Telegram as the
// heading); notifiarr reads the param directly. A generic webhook uses it
// only with a template (template=json puts it in {"title":…}); without one
// the body is the bare message. Services without the key ignore the param
// or, like pagerduty and wecom, reject it.
func carriesTitle(svc types.Service) bool {
	switch s := svc.(type) {
	case *generic.Service:
		return s.Config != nil && s.Config.Template != ""
	case *notifiarr.Service:
		return true
	}
	cfg, ok := serviceConfig(svc)
	if !ok {
		return false
	}
	pkr := format.NewPropKeyResolver(cfg)
	_, err := pkr.Get(types.TitleKey)
	return err == nil
}

// serviceConfig returns the Config field every shoutrrr service keeps.
func serviceConfig(svc types.Service) (types.ServiceConfig, bool) {
	v := reflect.ValueOf(svc)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil, false
	}
	f := v.Elem().FieldByName("Config")
	if !f.IsValid() || !f.CanInterface() || (f.Kind() == reflect.Pointer && f.IsNil()) {
		return nil, false
	}
	cfg, ok := f.Interface().(types.ServiceConfig)
	return cfg, ok
}

// composeBody returns the text and params to send: the title as the
// "title" param when the service shows it, else as the first line of the
// body ("title\n\nmessage") so that the receiver still sees it.
func composeBody(titleShown bool, title, message string) (string, types.Params) {
	params := types.Params{}
	switch {
	case title == "":
		return message, params
	case titleShown:
		params.SetTitle(title)
		return message, params
	}
	return title + "\n\n" + message, params
}

package notify

import (
	"errors"
	"net/url"
	"strings"

	"github.com/nicholas-fedor/shoutrrr/pkg/services/specialized/generic"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"
)

// checkGeneric adds the checks shoutrrr leaves to send time for a generic
// webhook: a host, an http or https target in the generic+ form, and a
// template this process can render ("" or json; custom templates would
// have to be registered on the service first). Other services pass.
func checkGeneric(u *url.URL, svc types.Service) error {
	if serviceScheme(u) != generic.Scheme {
		return nil
	}
	if u.Host == "" {
		return errors.New("a generic webhook needs a host: generic://host[:port]/path")
	}
	if target, custom := strings.CutPrefix(u.Scheme, generic.Scheme+"+"); custom && target != "http" && target != "https" {
		return errors.New("generic+ supports http and https targets only")
	}
	g, ok := svc.(*generic.Service)
	if !ok || g.Config == nil {
		return nil
	}
	switch strings.ToLower(g.Config.Template) {
	case "", "json":
		return nil
	}
	return errors.New("unsupported template: use template=json or none")
}

package temporaltest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// SearchAttributes are the custom search attributes Windflow's workflows
// set (envflow.SearchAttributes; a test there keeps the two equal), as
// `temporal server start-dev --search-attribute` takes them.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	"WindflowEnvironment": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// devServerFlags are the start-dev flags that register SearchAttributes.
func devServerFlags() []string {
	var flags []string
	for name, t := range SearchAttributes {
		flags = append(flags, "--search-attribute", name+"="+typeName(t))
	}
	return flags
}

// typeName is the CLI's name of t ("Keyword"): the enum's String, which
// older API versions prefix with the type's name.
func typeName(t enumspb.IndexedValueType) string {
	return strings.TrimPrefix(t.String(), "IndexedValueType")
}

var (
	registerOnce sync.Once
	errRegister  error
)

// registerSearchAttributes registers SearchAttributes in the default
// namespace of the server at addr, once per test binary (a server started
// without the flags, e.g. the shared one before a restart, gets them too).
func registerSearchAttributes(addr string) error {
	registerOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := client.DialContext(ctx, client.Options{HostPort: addr})
		if err != nil {
			errRegister = err
			return
		}
		defer c.Close()
		_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: client.DefaultNamespace, SearchAttributes: SearchAttributes,
		})
		var exists *serviceerror.AlreadyExists
		if errors.As(err, &exists) {
			err = nil
		}
		if err != nil {
			errRegister = fmt.Errorf("register search attributes on %s: %w", addr, err)
		}
	})
	return errRegister
}

package cloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Request bodies are decoded in two steps so that a refusal names what is
// wrong: first the JSON syntax (with the byte offset), the wrapper
// ({"network": {...}}) and the attribute names against the request type
// (Neutron's "Unrecognized attribute(s) 'foo'"), then the values, where a
// type mismatch names the attribute.

// decodeBody decodes a wrapped body {"<key>": {...}} into dst.
func decodeBody(body []byte, key string, dst any) error {
	var outer map[string]json.RawMessage
	if err := unmarshalObject(body, &outer); err != nil {
		return err
	}
	var extra []string
	for k := range outer {
		if k != key {
			extra = append(extra, k)
		}
	}
	inner, ok := outer[key]
	if !ok {
		return errorf(http.StatusBadRequest, "HTTPBadRequest", "Unable to find '%s' in request body", key)
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return errorf(http.StatusBadRequest, "HTTPBadRequest", "Unrecognized attribute(s) '%s'", strings.Join(extra, ", "))
	}
	return decodeAttrs(inner, dst)
}

// decodeAttrs decodes an unwrapped attribute object into dst.
func decodeAttrs(body []byte, dst any) error {
	var fields map[string]json.RawMessage
	if err := unmarshalObject(body, &fields); err != nil {
		return err
	}
	allowed := attrNames(reflect.TypeOf(dst).Elem())
	var unknown []string
	for k := range fields {
		if !allowed[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return errorf(http.StatusBadRequest, "HTTPBadRequest", "Unrecognized attribute(s) '%s'", strings.Join(unknown, ", "))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return invalidAttr(te.Field, "a JSON %s is not a valid %s", te.Value, typeName(te.Type))
		}
		return invalidInput("%v", err)
	}
	return nil
}

// unmarshalObject decodes a JSON object, reporting syntax errors with
// their byte offset.
func unmarshalObject(body []byte, dst *map[string]json.RawMessage) error {
	err := json.Unmarshal(body, dst)
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case err == nil && *dst == nil:
		return errorf(http.StatusBadRequest, "HTTPBadRequest", "Malformed request body: expected a JSON object, got null")
	case err == nil:
		return nil
	case errors.As(err, &se):
		return errorf(http.StatusBadRequest, "HTTPBadRequest", "Malformed request body: %v (at byte offset %d)", se, se.Offset)
	case errors.As(err, &te):
		return errorf(http.StatusBadRequest, "HTTPBadRequest", "Malformed request body: expected a JSON object, got a JSON %s", te.Value)
	}
	return errorf(http.StatusBadRequest, "HTTPBadRequest", "Malformed request body: %v", err)
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "integer"
	case reflect.Slice:
		return "list"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return t.String()
}

var attrCache sync.Map // reflect.Type -> map[string]bool

// attrNames is the set of JSON attribute names of a request type.
func attrNames(t reflect.Type) map[string]bool {
	if m, ok := attrCache.Load(t); ok {
		return m.(map[string]bool)
	}
	m := map[string]bool{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = true
	}
	attrCache.Store(t, m)
	return m
}

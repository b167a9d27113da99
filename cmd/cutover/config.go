package main

import (
	"fmt"
	"os"

	"github.com/cutover-dev/cutover"
)

// resolvedConfigPath is --config, else $CUTOVER_CONFIG, else ./cutover.yaml.
func (g *globals) resolvedConfigPath() string {
	path := g.configPath
	if path == "" {
		path = os.Getenv("CUTOVER_CONFIG")
	}
	if path == "" {
		path = cutover.DefaultConfigFile
	}
	return path
}

// loadConfig reads the config file.
func (g *globals) loadConfig() (*cutover.Config, error) {
	cfg, err := cutover.Load(g.resolvedConfigPath())
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%w (pass --config FILE or set CUTOVER_CONFIG; examples/cutover.yaml is a start)", err)
		}
		return nil, err
	}
	return cfg, nil
}

// Package config holds sablebox's settings: their static defaults, how they
// load from flags, SABLEBOX_* variables and sablebox.yaml through viper,
// and their validation, with the setting's name in every message.
package config

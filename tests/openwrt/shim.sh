# A stand-in for what OpenWrt's /etc/rc.common and /lib/functions.sh give a
# procd init script, enough to run its start_service outside OpenWrt
# (tests/openwrt/run.py): config_load reads $UCI_CONFIG_DIR/NAME (the UCI
# syntax of contrib/openwrt/tinymx.config: config/option/list lines,
# single-quoted values, # comments) into CONFIG_SECTION_OPTION variables as
# OpenWrt's does; the procd_* functions print the instance they describe,
# one line per parameter, the command line as its words joined by spaces.

config_load() {
	_sec=
	while IFS= read -r _line || [ -n "$_line" ]; do
		eval "set -- $_line"
		[ $# -gt 0 ] || continue
		case "$1" in
		config) _sec=$3 ;;
		option) eval "CONFIG_${_sec}_$2=\$3" ;;
		list)
			eval "_n=\${CONFIG_${_sec}_$2_LENGTH:-0}"
			_n=$((_n + 1))
			eval "CONFIG_${_sec}_$2_ITEM$_n=\$3; CONFIG_${_sec}_$2_LENGTH=$_n"
			;;
		esac
	done <"$UCI_CONFIG_DIR/$1"
}

# config_get VAR SECTION OPTION [DEFAULT]
config_get() {
	eval "_v=\${CONFIG_$2_$3-\$4}"
	eval "$1=\$_v"
}

# config_get_bool VAR SECTION OPTION [DEFAULT]: 1 or 0, as OpenWrt reads them.
config_get_bool() {
	config_get _b "$2" "$3" "$4"
	case "$_b" in
	1 | on | true | yes | enabled) _b=1 ;;
	*) _b=0 ;;
	esac
	eval "$1=\$_b"
}

# config_list_foreach SECTION OPTION FUNCTION
config_list_foreach() {
	eval "_len=\${CONFIG_$1_$2_LENGTH:-0}"
	_i=1
	while [ "$_i" -le "$_len" ]; do
		eval "_item=\$CONFIG_$1_$2_ITEM$_i"
		"$3" "$_item"
		_i=$((_i + 1))
	done
}

procd_open_instance() { echo "procd_open_instance"; _params=; }
procd_set_param() {
	_p=$1
	shift
	eval "_param_$_p=\"\$*\""
	case " $_params " in *" $_p "*) ;; *) _params="$_params $_p" ;; esac
}
procd_append_param() {
	_p=$1
	shift
	eval "_param_$_p=\"\${_param_$_p} \$*\""
}
procd_close_instance() {
	for _p in $_params; do
		eval "echo \"$_p: \$_param_$_p\""
	done
	echo "procd_close_instance"
}
procd_add_reload_trigger() { echo "procd_add_reload_trigger $*"; }

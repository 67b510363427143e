# SPDX-License-Identifier: Apache-2.0
# Yosys script of the FuseSoC target ulx3s (tessera.core, trellis flow). Edalize writes the
# sources, include directories, defines and parameters into edalize_yosys_procs.tcl as
# read_verilog, verilog_defaults, verilog_defines and chparam commands; this script collects
# them and elaborates the design with read_slang (full SystemVerilog, as scripts/fpga/build
# does) instead of Yosys's own Verilog front end, then synthesizes for the ECP5 as edalize
# would and writes the JSON netlist for nextpnr.
yosys -import
source edalize_yosys_procs.tcl

set sources {}
set slang_opts {}
set gparams {}
proc read_verilog {args} { lappend ::sources [lindex $args end] }
proc verilog_defaults {args} {
  foreach a $args {
    if {[string match -I* $a]} { lappend ::slang_opts -I [string range $a 2 end] }
  }
}
proc verilog_defines {args} {
  foreach a $args {
    if {[string match -D* $a]} { lappend ::slang_opts -D [string range $a 2 end] }
  }
}
proc chparam {args} { lappend ::gparams -G "[lindex $args 1]=[lindex $args 2]" }

set_defines
set_incdirs
read_files
set_params

# A Yosys without read_slang built in loads the yosys-slang plugin.
if {[catch {yosys help read_slang}]} { yosys plugin -i slang }
yosys read_slang --threads 1 {*}$slang_opts {*}$sources --top $top {*}$gparams
yosys hierarchy -check -top $top
synth $top
yosys write_json $name.json

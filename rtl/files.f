+incdir+rtl/prim
rtl/pkg/tessera_pkg.sv
rtl/prim/prim_ram_1r1w.sv
rtl/tile/tile.sv

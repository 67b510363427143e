// SPDX-License-Identifier: Apache-2.0
// Tessera package: types and constants shared by the blocks of the chip.

package tessera_pkg;

  // Largest reduction length for which an int32 accumulator of int8 x int8 products cannot
  // overflow: 131072 * 127 * 128 < 2^31.
  localparam int unsigned MaxK = 131072;

  // Width of an accumulator and of a result element.
  localparam int unsigned AccWidth = 32;

  // Matrix-vector operation set-up of a tile. Packed: base = [95:64], rows = [63:32],
  // k = [31:0].
  typedef struct packed {
    logic [31:0] base;  // word address of the first weight word of the operation
    logic [31:0] rows;  // output rows
    logic [31:0] k;     // reduction length (elements of the input vector)
  } tile_cfg_t;

  // Tile operation state.
  typedef enum logic [0:0] {
    TileIdle = 1'b0,  // waiting for a set-up
    TileRun  = 1'b1   // streaming activations, stepping the MAC array, handing over results
  } tile_state_e;


  ///////////////////////////////////////////////////////////////////////////
  // Chip level: descriptors, error codes, network payloads (docs/architecture.md)
  ///////////////////////////////////////////////////////////////////////////

  // A descriptor header is eight 32-bit words; word 0 holds the opcode in bits [7:0].
  localparam int unsigned DescWords = 8;
  localparam int unsigned DescBits  = DescWords * 32;

  // Width of a tile index in network tags (at most 65536 tiles).
  localparam int unsigned TileIdxWidth = 16;

  // Width of log2(P_k), the K-partition count of a matrix-vector product.
  localparam int unsigned LgPkWidth = 5;

  // BEGIN generated from sw-driver/abi/src/descriptor.rs by scripts/gen-abi: do not edit.
  // Descriptor opcodes.
  typedef enum logic [7:0] {
    OpNop          = 8'h00,  // no operation
    OpMatvec       = 8'h01,  // matrix-vector product over every tile
    OpWeightLoad   = 8'h02,  // weight words to a range of tiles; payload follows
    OpVbufLoad     = 8'h03,  // int8 chunks to the activation buffer; payload follows
    OpVbufRead     = 8'h04,  // result buffer words to the output stream
    OpFence        = 8'h05,  // wait for every earlier descriptor, then raise INTR_STATUS.done
    OpPerfSnapshot = 8'h06,  // wait for every earlier descriptor, then copy the counters
    OpEngLoad      = 8'h07,  // words to the engine's program memory or DMEM; payload follows
    OpToken        = 8'h08   // run the token-engine program for one token (id, position, flags)
  } opcode_e;

  // Error codes reported in ERROR.code.
  typedef enum logic [7:0] {
    ErrNone        = 8'h00,  // no error
    ErrOpcode      = 8'h01,  // unknown opcode
    ErrShape       = 8'h02,  // zero or too large a size, or P_k larger than the tile count
    ErrWeightRange = 8'h03,  // weight words past the weight memory of a tile
    ErrAbufRange   = 8'h04,  // activation buffer address range past the buffer
    ErrRbufRange   = 8'h05,  // result buffer address range past the buffer
    ErrTileRange   = 8'h06,  // tile range empty or past the last tile
    ErrStreamShort = 8'h07,  // tlast before the end of the descriptor's packet
    ErrStreamLong  = 8'h08,  // no tlast on the last beat of the descriptor's packet
    ErrCmdOverflow = 8'h09,  // a CMD_FIFO write found the FIFO full
    ErrTile        = 8'h0a,  // a tile flagged an illegal set-up or weight write
    ErrInstr       = 8'h0b,  // token engine: unknown opcode or reserved bit set
    ErrVmemRange   = 8'h0c,  // token engine: vector memory range past the memory
    ErrDmemRange   = 8'h0d,  // token engine: data memory range past the memory or misaligned
    ErrKvFull      = 8'h0e,  // token engine: KV cache full (position >= context)
    ErrToken       = 8'h0f,  // token engine: token id past the embedding table
    ErrProgRange   = 8'h10,  // token engine: program ran past its memory without END
    ErrEccWeight   = 8'h11,  // double-bit ECC error in a weight memory (ECC_FAIL)
    ErrEccData     = 8'h12,  // token engine: double-bit ECC error in the data memory
    ErrWeightRom   = 8'h13   // WEIGHT_LOAD on a chip whose weights are in ROM
  } err_code_e;

  // Token-engine opcodes (sw-driver/abi/src/token.rs).
  typedef enum logic [7:0] {
    TokNop      = 8'h00,  // no operation
    TokEmbed    = 8'h01,  // bfloat16 embedding row TOKEN, widened to binary32, to VMEM
    TokRmsNorm  = 8'h02,  // RMSNorm of a VMEM vector with a DMEM gamma
    TokQuant    = 8'h03,  // VMEM vector to int8 ABUF chunks; its scale to SX
    TokMatvec   = 8'h04,  // matrix-vector product over every tile (MATVEC's fields)
    TokDequant  = 8'h05,  // RBUF int32 results times SX and DMEM row scales to VMEM
    TokRope     = 8'h06,  // rotary embedding of VMEM heads at POS (DMEM cos/sin table)
    TokKvAppend = 8'h07,  // int8 keys and values of POS into a DMEM KV-cache region
    TokAttend   = 8'h08,  // grouped-query attention over positions 0..=POS, two int8 p.V passes
    TokSiluMul  = 8'h09,  // silu(gate) * up, element-wise
    TokAdd      = 8'h0a,  // element-wise sum (residual add)
    TokArgmax   = 8'h0b,  // index of the largest VMEM value to NEXT
    TokLogits   = 8'h0c,  // VMEM words to the output stream when the host asked for logits
    TokEnd      = 8'h0d   // end of the token: NEXT is valid
  } tok_op_e;
  // END generated.

  // Set-up of one matrix-vector product as the multicast network carries it to every tile.
  // Every tile computes groups x Lanes rows over chunks x KWidth elements from weight word
  // base; its results go to result buffer word out_base + rp * groups + g, where
  // rp = tile >> lg_pk is the tile's row partition.
  typedef struct packed {
    logic [LgPkWidth-1:0] lg_pk;     // log2 of the K-partition count
    logic [31:0]          out_base;  // first result buffer word of the product
    logic [31:0]          base;      // first weight word in every tile
    logic [31:0]          groups;    // row groups (Lanes rows each) per tile
    logic [31:0]          chunks;    // activation chunks (KWidth elements each) per tile
  } mc_op_t;

  localparam int unsigned McOpBits = $bits(mc_op_t);


  // Command processor state.
  typedef enum logic [3:0] {
    CmdIdle     = 4'd0,  // no descriptor in hand
    CmdHdr      = 4'd1,  // collecting the eight header words
    CmdDecode   = 4'd2,  // checking the descriptor
    CmdWait     = 4'd3,  // waiting for every earlier matrix-vector product to complete
    CmdMvOp     = 4'd4,  // sending the operation beat down the multicast tree
    CmdMvChunks = 4'd5,  // sending the activation chunks down the multicast tree
    CmdLoad     = 4'd6,  // taking a weight or activation payload from the stream
    CmdRead     = 4'd7,  // sending result buffer words to the output stream
    CmdError    = 4'd8,  // stopped on an error until a soft reset
    CmdTok      = 4'd9   // a TOKEN in hand: the token engine runs its program
  } cmd_state_e;

  // Token engine sequencer state (rtl/tok/tok_engine.sv; one group of states per instruction).
  typedef enum logic [6:0] {
    TokIdle,
    TokFetch,
    TokFetchW,
    TokDecode,
    TokDiv,
    TokMul1,
    TokMul2,
    TokMul3,
    TokCheck,
    TokFault,
    TokNext,
    TokEmbAddr,
    TokEmbRd,
    TokEmbWr,
    TokRnARd,
    TokRnA,
    TokRnBRd,
    TokRnB,
    TokRnSs,
    TokRnNf,
    TokRnDiv,
    TokRnEps,
    TokRnRsq,
    TokRnCRd,
    TokRnC1,
    TokRnC2,
    TokMaxRd,
    TokMax,
    TokQs1,
    TokQs2,
    TokQsEnd,
    TokQeRd,
    TokQeMul,
    TokQeCvt,
    TokQePut,
    TokMv,
    TokDqWait,
    TokDqRd,
    TokDq1,
    TokDq2,
    TokDq3,
    TokRoAddr,
    TokRoRdA,
    TokRoRdB,
    TokRo1,
    TokRo2,
    TokRo3,
    TokRo4,
    TokRo5,
    TokRo6,
    TokRo7,
    TokKv0,
    TokKv1,
    TokKv2,
    TokKvHead,
    TokKvScale,
    TokAt0,
    TokAt1,
    TokAt2,
    TokAtHead,
    TokAtC,
    TokAtS0,
    TokAtSRd,
    TokAtSAcc,
    TokAtSKs,
    TokAtS1,
    TokAtS2,
    TokAtS3,
    TokAtM,
    TokAtERd,
    TokAtE1,
    TokAtE2,
    TokAtE3,
    TokAtE4,
    TokAtSum,
    TokAtSc,
    TokAtPRd,
    TokAtPMul,
    TokAtPCvt,
    TokAtV0,
    TokAtVRd,
    TokAtVAcc,
    TokAtV1,
    TokAtV2,
    TokSiRd,
    TokSi1,
    TokSi2,
    TokSi3,
    TokAdRd,
    TokAd1,
    TokAd2,
    TokAmRd,
    TokAm1,
    TokLgRd,
    TokLg1,
    TokLgSend,
    TokEndSend,
    TokTrace
  } tok_state_e;

endpackage

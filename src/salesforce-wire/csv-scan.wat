;; The byte scanner of BulkCsvRecords (csv-reader.ts, csv-scan.ts): finds the cells of one plain Bulk CSV record
;; (every cell quoted, the delimiter between, LF at the end) and or-s the classes of each cell's bytes.
;; Compiled by scripts/gen-csv-scan-wasm.ts (wabt's wat2wasm) into csv-scan-wasm.ts; edit this file, then run it.
;;
;; Memory (placed by csv-scan.ts through layout()): the record's cell count and or-ed classes at 0 and 4, the
;; cell arrays (starts, ends: i32; flags: u8: BYTE_NON_ASCII 1, BYTE_CSV_QUOTE 2, BYTE_JSON_ESCAPE 4, BYTE_QUOTE 8
;; of csv-reader.ts), then the input, a `"` after its last byte and 15 more bytes of room (so a 16-byte load from
;; any byte of the input stays in the memory, and the loop over a cell's bytes needs no bound check).
(module
  (memory (export "memory") 1)
  (global $in (mut i32) (i32.const 0))
  (global $starts (mut i32) (i32.const 0))
  (global $ends (mut i32) (i32.const 0))
  (global $flags (mut i32) (i32.const 0))
  (global $cap (mut i32) (i32.const 0))
  (global $delim (mut i32) (i32.const 44))
  (func (export "layout") (param $in i32) (param $starts i32) (param $ends i32) (param $flags i32) (param $cap i32) (param $delim i32)
    (global.set $in (local.get $in))
    (global.set $starts (local.get $starts))
    (global.set $ends (local.get $ends))
    (global.set $flags (local.get $flags))
    (global.set $cap (local.get $cap))
    (global.set $delim (local.get $delim)))
  ;; the classes of the bytes of v under mask m
  (func $classes (param $v v128) (param $m i32) (result i32)
    (i32.or
      (i32.or
        (select (i32.const 1) (i32.const 0) (i32.and (i8x16.bitmask (local.get $v)) (local.get $m)))
        (select (i32.const 2) (i32.const 0) (i32.and (local.get $m) (i8x16.bitmask (v128.or (v128.or
          (i8x16.eq (local.get $v) (v128.const i8x16 44 44 44 44 44 44 44 44 44 44 44 44 44 44 44 44))
          (i8x16.eq (local.get $v) (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10)))
          (i8x16.eq (local.get $v) (v128.const i8x16 13 13 13 13 13 13 13 13 13 13 13 13 13 13 13 13)))))))
      (select (i32.const 4) (i32.const 0) (i32.and (local.get $m) (i8x16.bitmask (v128.or
        (i8x16.lt_u (local.get $v) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))
        (i8x16.eq (local.get $v) (v128.const i8x16 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92))))))))
  ;; scan(p, n): the record at input[p] of input[0, n): the end of the record (past its LF, from the input's
  ;; start), with its cells' bounds and classes in the cell arrays and the count and classes at 0 and 4; or -1 (the
  ;; input ends first), -2 (not a plain record), -3 (more cells than the arrays hold). As the JavaScript scanner
  ;; it replaces: a cell's content runs to the first `"` not doubled; the bytes are read 16 at a time (SIMD), the
  ;; classes worked out only for a block that holds a byte of some class before its first `"`.
  (func (export "scan") (param $p i32) (param $n i32) (result i32)
    (local $in i32) (local $end i32) (local $j i32) (local $c i32) (local $f i32)
    (local $count i32) (local $all i32) (local $after i32)
    (local $v v128) (local $q i32) (local $s i32) (local $m i32)
    (local.set $in (global.get $in))
    (local.set $end (i32.add (local.get $in) (local.get $n)))
    (local.set $p (i32.add (local.get $in) (local.get $p)))
    (loop $cell
      (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
      (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 34)) (then (return (i32.const -2))))
      (local.set $j (i32.add (local.get $p) (i32.const 1)))
      (local.set $f (i32.const 0))
      (block $closed
        (loop $quoted
          (block $quote
            (loop $blocks
              (local.set $v (v128.load (local.get $j)))
              (local.set $q (i8x16.bitmask (i8x16.eq (local.get $v) (v128.const i8x16 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34))))
              ;; bytes of any class: below 0x20 or from 0x80 (v - 0x20 >= 0x60 unsigned), `,` and `\`
              (local.set $s (i8x16.bitmask (v128.or
                (v128.or
                  (i8x16.ge_u (i8x16.sub (local.get $v) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))
                    (v128.const i8x16 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60))
                  (i8x16.eq (local.get $v) (v128.const i8x16 44 44 44 44 44 44 44 44 44 44 44 44 44 44 44 44)))
                (i8x16.eq (local.get $v) (v128.const i8x16 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92)))))
              (if (local.get $q)
                (then
                  ;; the bytes before the first quote
                  (local.set $m (i32.and (i32.sub (local.get $q) (i32.const 1)) (i32.xor (local.get $q) (i32.const -1))))
                  (if (i32.and (local.get $s) (local.get $m))
                    (then (local.set $f (i32.or (local.get $f) (call $classes (local.get $v) (local.get $m))))))
                  (local.set $j (i32.add (local.get $j) (i32.ctz (local.get $q))))
                  (br $quote)))
              (if (local.get $s)
                (then (local.set $f (i32.or (local.get $f) (call $classes (local.get $v) (i32.const 0xffff))))))
              (local.set $j (i32.add (local.get $j) (i32.const 16)))
              (br $blocks)))
          (if (i32.ge_u (i32.add (local.get $j) (i32.const 1)) (local.get $end)) (then (return (i32.const -1))))
          (br_if $closed (i32.ne (i32.load8_u offset=1 (local.get $j)) (i32.const 34)))
          (local.set $f (i32.or (local.get $f) (i32.const 14)))
          (local.set $j (i32.add (local.get $j) (i32.const 2)))
          (br $quoted)))
      (if (i32.eq (local.get $count) (global.get $cap)) (then (return (i32.const -3))))
      (i32.store (i32.add (global.get $starts) (i32.shl (local.get $count) (i32.const 2)))
        (i32.sub (i32.add (local.get $p) (i32.const 1)) (local.get $in)))
      (i32.store (i32.add (global.get $ends) (i32.shl (local.get $count) (i32.const 2)))
        (i32.sub (local.get $j) (local.get $in)))
      (i32.store8 (i32.add (global.get $flags) (local.get $count)) (local.get $f))
      (local.set $count (i32.add (local.get $count) (i32.const 1)))
      (local.set $all (i32.or (local.get $all) (local.get $f)))
      (local.set $after (i32.load8_u offset=1 (local.get $j)))
      (if (i32.eq (local.get $after) (global.get $delim))
        (then
          (local.set $p (i32.add (local.get $j) (i32.const 2)))
          (br $cell)))
      (if (i32.ne (local.get $after) (i32.const 10)) (then (return (i32.const -2))))
      (i32.store (i32.const 0) (local.get $count))
      (i32.store (i32.const 4) (local.get $all))
      (return (i32.sub (i32.add (local.get $j) (i32.const 2)) (local.get $in))))
    (unreachable))
)

;; The byte scanner of BulkCsvRecords (csv-reader.ts, csv-scan.ts): finds the cells of one plain Bulk CSV record
;; (every cell quoted, the delimiter between, LF at the end) and or-s the classes of each cell's bytes.
;; Compiled by scripts/gen-csv-scan-wasm.ts (wabt's wat2wasm) into csv-scan-wasm.ts; edit this file, then run it.
;;
;; Memory (placed by csv-scan.ts through layout()): the record's cell count and or-ed classes at 0 and 4, the
;; cell arrays (starts, ends: i32; flags: u8: BYTE_NON_ASCII 1, BYTE_CSV_QUOTE 2, BYTE_JSON_ESCAPE 4, BYTE_QUOTE 8
;; of csv-reader.ts), then the input, a `"` after its last byte and 15 more bytes of room (so a 16-byte load from
;; any byte of the input stays in the memory, and the loop over a cell's bytes needs no bound check).
;;
;; emit() writes the scanned record's output line (CSV or JSON lines) as bulkLineWriter's program says (see below),
;; placed by csv-scan.ts between the cell arrays and the input: the program (program()) and the output room.
(module
  (memory (export "memory") 1)
  (global $in (mut i32) (i32.const 0))
  (global $starts (mut i32) (i32.const 0))
  (global $ends (mut i32) (i32.const 0))
  (global $flags (mut i32) (i32.const 0))
  (global $cap (mut i32) (i32.const 0))
  (global $delim (mut i32) (i32.const 44))
  (global $prog (mut i32) (i32.const 0))
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
;; ---- emit: the line of the scanned record (read-plan.ts, bulkLineWriter: its JavaScript is the reference) ----
;; The program at $prog (offsets in it are from its start; every text in it has 16 bytes of room after it):
;;   0 columns, 4 CSV (1) or JSON lines (0), 8/12 the line end (offset, length), 16/20 `{"latitude":`,
;;   24/28 `,"longitude":`, 32/36 `}` (as the format writes them), 40 JSON escapes (8 bytes for each of bytes
;;   0-0x5f), 44 their lengths (a byte each), 48 and 52 the datetime and time shapes (`0` a digit, 32 bytes each);
;;   at 64 one 48-byte entry per column: 0 rule, 4 cell, 8/12 the JSON key with what goes before it, 16/20 the cells
;;   a rule 5-6 column reads (i32 array), 24/28 its text when they are all empty, 32/36 a location's latitude and
;;   longitude cells.
;; Rules: 0 text, 1 datetime, 2 boolean, 3 number, 4 time (copied when as the builder writes them), 5 its text
;; when the cells it reads are all empty, 6 a location (numbers as written, or as 5).
  (func (export "program") (param $p i32)
    (global.set $prog (local.get $p)))
  ;; copies len bytes from s to o, 16 at a time (reads and writes up to 15 bytes past them); o + len
  (func $copy (param $o i32) (param $s i32) (param $len i32) (result i32)
    (local $j i32)
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_s (local.get $j) (local.get $len)))
        (v128.store (i32.add (local.get $o) (local.get $j)) (v128.load (i32.add (local.get $s) (local.get $j))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $blocks)))
    (i32.add (local.get $o) (local.get $len)))
  ;; a program text (offset and length at $at of the program) copied to o
  (func $text (param $o i32) (param $at i32) (result i32)
    (call $copy (local.get $o)
      (i32.add (global.get $prog) (i32.load (i32.add (global.get $prog) (local.get $at))))
      (i32.load offset=4 (i32.add (global.get $prog) (local.get $at)))))
  ;; isCanonicalNumber of [s, e) (read-plan.ts canonicalNumberAt)
  (func $canonical (param $s i32) (param $e i32) (result i32)
    (local $j i32) (local $neg i32) (local $lead i32) (local $dot i32) (local $z i32)
    (if (i32.gt_s (i32.sub (local.get $e) (local.get $s)) (i32.const 15)) (then (return (i32.const 0))))
    (local.set $j (local.get $s))
    (local.set $neg (i32.eq (i32.load8_u (local.get $j)) (i32.const 45)))
    (local.set $j (i32.add (local.get $j) (local.get $neg)))
    (if (i32.ge_u (local.get $j) (local.get $e)) (then (return (i32.const 0))))
    (local.set $lead (i32.load8_u (local.get $j)))
    (if (i32.eq (local.get $lead) (i32.const 48))
      (then (local.set $j (i32.add (local.get $j) (i32.const 1))))
      (else
        (if (i32.eqz (i32.le_u (i32.sub (local.get $lead) (i32.const 48)) (i32.const 9))) (then (return (i32.const 0))))
        (block $end
          (loop $digits
            (br_if $end (i32.ge_u (local.get $j) (local.get $e)))
            (br_if $end (i32.eqz (i32.le_u (i32.sub (i32.load8_u (local.get $j)) (i32.const 48)) (i32.const 9))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $digits)))))
    (if (i32.eq (local.get $j) (local.get $e))
      (then (return (i32.eqz (i32.and (i32.and (local.get $neg) (i32.eq (local.get $lead) (i32.const 48)))
        (i32.eq (i32.sub (local.get $e) (local.get $s)) (i32.const 2)))))))
    (if (i32.ne (i32.load8_u (local.get $j)) (i32.const 46)) (then (return (i32.const 0))))
    (local.set $j (i32.add (local.get $j) (i32.const 1)))
    (local.set $dot (local.get $j))
    (block $end
      (loop $digits
        (br_if $end (i32.ge_u (local.get $j) (local.get $e)))
        (br_if $end (i32.eqz (i32.le_u (i32.sub (i32.load8_u (local.get $j)) (i32.const 48)) (i32.const 9))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $digits)))
    (if (i32.ne (local.get $j) (local.get $e)) (then (return (i32.const 0))))
    (if (i32.eq (local.get $j) (local.get $dot)) (then (return (i32.const 0))))
    (if (i32.eq (i32.load8_u (i32.sub (local.get $e) (i32.const 1))) (i32.const 48)) (then (return (i32.const 0))))
    ;; below 1e-6: printed with an exponent
    (if (i32.and (i32.eq (local.get $lead) (i32.const 48)) (i32.ge_s (i32.sub (local.get $e) (local.get $dot)) (i32.const 6)))
      (then
        (local.set $z (local.get $dot))
        (loop $zeros
          (if (i32.ne (i32.load8_u (local.get $z)) (i32.const 48)) (then (return (i32.const 1))))
          (local.set $z (i32.add (local.get $z) (i32.const 1)))
          (br_if $zeros (i32.lt_u (local.get $z) (i32.add (local.get $dot) (i32.const 6)))))
        (return (i32.const 0))))
    (i32.const 1))
  ;; the end of a number cell's text as the builder writes it, or -1 (read-plan.ts numberTextEnd)
  (func $numberEnd (param $s i32) (param $e i32) (result i32)
    (local $dot i32) (local $t i32)
    (if (i32.eq (local.get $s) (local.get $e)) (then (return (i32.const -1))))
    (if (call $canonical (local.get $s) (local.get $e)) (then (return (local.get $e))))
    (if (i32.ne (i32.load8_u (i32.sub (local.get $e) (i32.const 1))) (i32.const 48)) (then (return (i32.const -1))))
    (local.set $dot (local.get $s))
    (block $found
      (loop $find
        (br_if $found (i32.ge_u (local.get $dot) (local.get $e)))
        (br_if $found (i32.eq (i32.load8_u (local.get $dot)) (i32.const 46)))
        (local.set $dot (i32.add (local.get $dot) (i32.const 1)))
        (br $find)))
    (if (i32.eq (local.get $dot) (local.get $e)) (then (return (i32.const -1))))
    (local.set $t (local.get $e))
    (block $trimmed
      (loop $trim
        (br_if $trimmed (i32.le_u (local.get $t) (i32.add (local.get $dot) (i32.const 1))))
        (br_if $trimmed (i32.ne (i32.load8_u (i32.sub (local.get $t) (i32.const 1))) (i32.const 48)))
        (local.set $t (i32.sub (local.get $t) (i32.const 1)))
        (br $trim)))
    (if (i32.eq (local.get $t) (i32.add (local.get $dot) (i32.const 1))) (then (local.set $t (local.get $dot))))
    (select (local.get $t) (i32.const -1) (call $canonical (local.get $s) (local.get $t))))
  ;; emit(out): the record's line (its LF included) written from out; its end, or -1 when a column needs JavaScript.
  ;; A column's key and a cell are copied 16 bytes at a time in the loop itself, and a datetime's or time's shape
  ;; checked there (`0` a digit, else the byte itself): V8 does not inline calls between WebAssembly functions.
  (func (export "emit") (param $out i32) (result i32)
    (local $P i32) (local $n i32) (local $csv i32) (local $k i32) (local $col i32) (local $o i32) (local $rule i32)
    (local $i i32) (local $s i32) (local $e i32) (local $f i32) (local $t i32) (local $t2 i32) (local $b i32)
    (local $r i32) (local $rend i32) (local $sh i32) (local $s2 i32) (local $q i32) (local $j i32) (local $len i32)
    (local $in i32) (local $starts i32) (local $ends i32) (local $flags i32)
    (local.set $in (global.get $in))
    (local.set $starts (global.get $starts))
    (local.set $ends (global.get $ends))
    (local.set $flags (global.get $flags))
    (local.set $P (global.get $prog))
    (local.set $n (i32.load (local.get $P)))
    (local.set $csv (i32.load offset=4 (local.get $P)))
    (local.set $o (local.get $out))
    (local.set $col (i32.add (local.get $P) (i32.const 64)))
    (block $columns
      (loop $column
        (br_if $columns (i32.ge_u (local.get $k) (local.get $n)))
        (block $next
          (if (local.get $csv)
            (then
              (if (local.get $k)
                (then
                  (i32.store8 (local.get $o) (i32.const 44))
                  (local.set $o (i32.add (local.get $o) (i32.const 1))))))
            (else
              ;; the key
              (local.set $s (i32.add (local.get $P) (i32.load offset=8 (local.get $col))))
              (local.set $len (i32.load offset=12 (local.get $col)))
              (local.set $j (i32.const 0))
              (loop $key
                (v128.store (i32.add (local.get $o) (local.get $j)) (v128.load (i32.add (local.get $s) (local.get $j))))
                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                (br_if $key (i32.lt_s (local.get $j) (local.get $len))))
              (local.set $o (i32.add (local.get $o) (local.get $len)))))
          (local.set $rule (i32.load (local.get $col)))
          (if (i32.ge_u (local.get $rule) (i32.const 5))
            (then
              (if (i32.eq (local.get $rule) (i32.const 6))
                (then
                  (local.set $i (i32.load offset=32 (local.get $col)))
                  (local.set $s (i32.add (local.get $in) (i32.load (i32.add (local.get $starts) (i32.shl (local.get $i) (i32.const 2))))))
                  (local.set $t (call $numberEnd (local.get $s)
                    (i32.add (local.get $in) (i32.load (i32.add (local.get $ends) (i32.shl (local.get $i) (i32.const 2)))))))
                  (if (i32.ge_s (local.get $t) (i32.const 0))
                    (then
                      (local.set $i (i32.load offset=36 (local.get $col)))
                      (local.set $s2 (i32.add (local.get $in) (i32.load (i32.add (local.get $starts) (i32.shl (local.get $i) (i32.const 2))))))
                      (local.set $t2 (call $numberEnd (local.get $s2)
                        (i32.add (local.get $in) (i32.load (i32.add (local.get $ends) (i32.shl (local.get $i) (i32.const 2)))))))
                      (if (i32.ge_s (local.get $t2) (i32.const 0))
                        (then
                          (local.set $o (call $text (local.get $o) (i32.const 16)))
                          (local.set $o (call $copy (local.get $o) (local.get $s) (i32.sub (local.get $t) (local.get $s))))
                          (local.set $o (call $text (local.get $o) (i32.const 24)))
                          (local.set $o (call $copy (local.get $o) (local.get $s2) (i32.sub (local.get $t2) (local.get $s2))))
                          (local.set $o (call $text (local.get $o) (i32.const 32)))
                          (br $next)))))))
              ;; the text of all-empty cells, else JavaScript
              (local.set $r (i32.add (local.get $P) (i32.load offset=16 (local.get $col))))
              (local.set $rend (i32.add (local.get $r) (i32.shl (i32.load offset=20 (local.get $col)) (i32.const 2))))
              (block $blank
                (loop $reads
                  (br_if $blank (i32.ge_u (local.get $r) (local.get $rend)))
                  (local.set $i (i32.shl (i32.load (local.get $r)) (i32.const 2)))
                  (if (i32.ne (i32.load (i32.add (local.get $starts) (local.get $i))) (i32.load (i32.add (local.get $ends) (local.get $i))))
                    (then (return (i32.const -1))))
                  (local.set $r (i32.add (local.get $r) (i32.const 4)))
                  (br $reads)))
              (local.set $o (call $text (local.get $o) (i32.sub (i32.add (local.get $col) (i32.const 24)) (local.get $P))))
              (br $next)))
          (local.set $i (i32.load offset=4 (local.get $col)))
          (local.set $s (i32.add (local.get $in) (i32.load (i32.add (local.get $starts) (i32.shl (local.get $i) (i32.const 2))))))
          (local.set $e (i32.add (local.get $in) (i32.load (i32.add (local.get $ends) (i32.shl (local.get $i) (i32.const 2))))))
          ;; an empty cell: null (JSON), nothing (CSV)
          (if (i32.eq (local.get $s) (local.get $e))
            (then
              (if (i32.eqz (local.get $csv))
                (then
                  (i32.store (local.get $o) (i32.const 0x6c6c756e))
                  (local.set $o (i32.add (local.get $o) (i32.const 4)))))
              (br $next)))
          ;; the rules that copy the cell (to $t, quoted when $q) go on to the copy after these blocks
          (local.set $t (local.get $e))
          (local.set $q (i32.eqz (local.get $csv)))
          (block $copy
            (block $time
              (block $number
                (block $boolean
                  (block $datetime
                    (block $textRule
                      (br_table $textRule $datetime $boolean $number $time (local.get $rule)))
                    ;; text: quoted in JSON, in CSV when it holds `,` `"` CR or LF
                    (local.set $f (i32.load8_u (i32.add (local.get $flags) (local.get $i))))
                    (if (local.get $csv)
                      (then
                        (local.set $q (i32.ne (i32.and (local.get $f) (i32.const 2)) (i32.const 0)))
                        (br $copy)))
                    (br_if $copy (i32.eqz (i32.and (local.get $f) (i32.const 4))))
                    ;; `"` `\` and controls as JSON.stringify escapes them, `""` one quote
                    (i32.store8 (local.get $o) (i32.const 34))
                    (local.set $o (i32.add (local.get $o) (i32.const 1)))
                    (loop $bytes
                      (local.set $b (i32.load8_u (local.get $s)))
                      (if (i32.or (i32.lt_u (local.get $b) (i32.const 32)) (i32.or (i32.eq (local.get $b) (i32.const 92)) (i32.eq (local.get $b) (i32.const 34))))
                        (then
                          (i64.store (local.get $o) (i64.load (i32.add (i32.add (local.get $P) (i32.load offset=40 (local.get $P))) (i32.shl (local.get $b) (i32.const 3)))))
                          (local.set $o (i32.add (local.get $o) (i32.load8_u (i32.add (i32.add (local.get $P) (i32.load offset=44 (local.get $P))) (local.get $b)))))
                          (local.set $s (i32.add (local.get $s) (i32.eq (local.get $b) (i32.const 34)))))
                        (else
                          (i32.store8 (local.get $o) (local.get $b))
                          (local.set $o (i32.add (local.get $o) (i32.const 1)))))
                      (local.set $s (i32.add (local.get $s) (i32.const 1)))
                      (br_if $bytes (i32.lt_u (local.get $s) (local.get $e))))
                    (i32.store8 (local.get $o) (i32.const 34))
                    (local.set $o (i32.add (local.get $o) (i32.const 1)))
                    (br $next))
                  ;; datetime: YYYY-MM-DDTHH:MM:SS.sssZ
                  (if (i32.ne (i32.sub (local.get $e) (local.get $s)) (i32.const 24)) (then (return (i32.const -1))))
                  (local.set $sh (i32.add (local.get $P) (i32.load offset=48 (local.get $P))))
                  (if (i32.eqz (i32.and (i32.eq (i32.const 0xffff) (i32.and (i32.const 0xffff) (i8x16.bitmask (v128.bitselect
                      (i8x16.le_u (i8x16.sub (v128.load (local.get $s)) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))
                        (v128.const i8x16 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9))
                      (i8x16.eq (v128.load (local.get $s)) (v128.load (local.get $sh)))
                      (i8x16.eq (v128.load (local.get $sh)) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))))))
                      (i32.eq (i32.const 0xff) (i32.and (i32.const 0xff) (i8x16.bitmask (v128.bitselect
                      (i8x16.le_u (i8x16.sub (v128.load offset=16 (local.get $s)) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))
                        (v128.const i8x16 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9))
                      (i8x16.eq (v128.load offset=16 (local.get $s)) (v128.load offset=16 (local.get $sh)))
                      (i8x16.eq (v128.load offset=16 (local.get $sh)) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))))))))
                    (then (return (i32.const -1))))
                  (br $copy))
                ;; boolean: true, else false
                (if (i32.and (i32.eq (i32.sub (local.get $e) (local.get $s)) (i32.const 4)) (i32.eq (i32.load (local.get $s)) (i32.const 0x65757274)))
                  (then
                    (i32.store (local.get $o) (i32.const 0x65757274))
                    (local.set $o (i32.add (local.get $o) (i32.const 4))))
                  (else
                    (i32.store (local.get $o) (i32.const 0x736c6166))
                    (i32.store8 offset=4 (local.get $o) (i32.const 101))
                    (local.set $o (i32.add (local.get $o) (i32.const 5)))))
                (br $next))
              ;; number: as written, or without the zeros ending its decimals
              (local.set $t (call $numberEnd (local.get $s) (local.get $e)))
              (if (i32.lt_s (local.get $t) (i32.const 0)) (then (return (i32.const -1))))
              (local.set $q (i32.const 0))
              (br $copy))
            ;; time: HH:MM:SS.sssZ
            (if (i32.ne (i32.sub (local.get $e) (local.get $s)) (i32.const 13)) (then (return (i32.const -1))))
            (local.set $sh (i32.add (local.get $P) (i32.load offset=52 (local.get $P))))
            (if (i32.eqz (i32.eq (i32.const 0x1fff) (i32.and (i32.const 0x1fff) (i8x16.bitmask (v128.bitselect
                      (i8x16.le_u (i8x16.sub (v128.load (local.get $s)) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))
                        (v128.const i8x16 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9))
                      (i8x16.eq (v128.load (local.get $s)) (v128.load (local.get $sh)))
                      (i8x16.eq (v128.load (local.get $sh)) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48)))))))
              (then (return (i32.const -1)))))
          ;; the cell [s, t), quoted when q
          (i32.store8 (local.get $o) (i32.const 34))
          (local.set $o (i32.add (local.get $o) (local.get $q)))
          (local.set $len (i32.sub (local.get $t) (local.get $s)))
          (local.set $j (i32.const 0))
          (loop $cell
            (v128.store (i32.add (local.get $o) (local.get $j)) (v128.load (i32.add (local.get $s) (local.get $j))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br_if $cell (i32.lt_s (local.get $j) (local.get $len))))
          (local.set $o (i32.add (local.get $o) (local.get $len)))
          (i32.store8 (local.get $o) (i32.const 34))
          (local.set $o (i32.add (local.get $o) (local.get $q))))
        (local.set $col (i32.add (local.get $col) (i32.const 48)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $column)))
    (call $text (local.get $o) (i32.const 8)))
)

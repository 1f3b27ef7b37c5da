-- udplab for Wireshark: decodes udplab's datagram header (firmware/src/wire.rs) and shows what
-- the network did to each frame, from the comment udplab writes on every frame of its captures
-- (`udplab run --pcap`, `udplab tap --pcap`).
--
-- Two protocols: `udplab` (the header: kind, seq, sent_us, ack, attempt, CRC and whether it
-- matches) on any UDP datagram that starts with "UL" and version 1, and `udplab_fate` (for every
-- frame with a udplab comment, students' own datagrams included): the fate (offered, arrived,
-- duplicate, lost), what else happened (reordered, corrupted, held), and the Info column says it.
--
-- Install: wireshark/install.sh (personal plugin and a `udplab` profile with colouring rules and
-- columns), or for one run: tshark -X lua_script:wireshark/udplab.lua -r CAPTURE.pcapng

local udplab = Proto("udplab", "udplab datagram")
local kinds = { [0] = "data", [2] = "ack" }
local hf = {
    kind = ProtoField.uint8("udplab.kind", "Kind", base.DEC, kinds),
    seq = ProtoField.uint32("udplab.seq", "Sequence number"),
    sent_us = ProtoField.uint64("udplab.sent_us", "Sent at (sender's clock, us)"),
    ack = ProtoField.uint32("udplab.ack", "Acknowledges every seq below"),
    attempt = ProtoField.uint16("udplab.attempt", "Attempt"),
    crc = ProtoField.uint32("udplab.crc", "CRC-32", base.HEX),
    crc_status = ProtoField.string("udplab.crc.status", "CRC status"),
    payload = ProtoField.bytes("udplab.payload", "Payload"),
}
udplab.fields = { hf.kind, hf.seq, hf.sent_us, hf.ack, hf.attempt, hf.crc, hf.crc_status, hf.payload }
local bad_crc = ProtoExpert.new("udplab.crc.bad", "udplab CRC mismatch: the datagram was damaged",
    expert.group.CHECKSUM, expert.severity.NOTE)
udplab.experts = { bad_crc }

local HEADER_LEN = 28

-- CRC-32/ISO-HDLC (zlib's), table-driven.
local crc_table = {}
for i = 0, 255 do
    local c = i
    for _ = 1, 8 do
        if bit32.band(c, 1) == 1 then
            c = bit32.bxor(0xEDB88320, bit32.rshift(c, 1))
        else
            c = bit32.rshift(c, 1)
        end
    end
    crc_table[i] = c
end

-- The CRC of the datagram with its CRC field (bytes 24..27) taken as zero.
local function crc32(tvb)
    local c = 0xFFFFFFFF
    for i = 0, tvb:len() - 1 do
        local b = (i >= 24 and i < 28) and 0 or tvb(i, 1):uint()
        c = bit32.bxor(crc_table[bit32.band(bit32.bxor(c, b), 0xFF)], bit32.rshift(c, 8))
    end
    return bit32.bxor(c, 0xFFFFFFFF)
end

local function is_udplab(tvb)
    return tvb:len() >= HEADER_LEN and tvb(0, 2):string() == "UL" and tvb(2, 1):uint() == 1
end

local function dissect(tvb, pinfo, tree)
    pinfo.cols.protocol = "udplab"
    local t = tree:add(udplab, tvb(0, HEADER_LEN))
    local kind = tvb(3, 1):uint()
    t:add(hf.kind, tvb(3, 1))
    t:add(hf.seq, tvb(4, 4))
    t:add(hf.sent_us, tvb(8, 8))
    t:add(hf.ack, tvb(16, 4))
    t:add(hf.attempt, tvb(20, 2))
    local crc_item = t:add(hf.crc, tvb(24, 4))
    local good = crc32(tvb) == tvb(24, 4):uint()
    t:add(hf.crc_status, good and "good" or "bad")
    if not good then
        crc_item:add_proto_expert_info(bad_crc)
    end
    if tvb:len() > HEADER_LEN then
        tree:add(hf.payload, tvb(HEADER_LEN))
    end
    local what = kinds[kind] or ("kind " .. kind)
    local info = what .. " seq=" .. tvb(4, 4):uint()
    if kind == 2 then
        info = info .. " ack " .. tvb(16, 4):uint()
    end
    local attempt = tvb(20, 2):uint()
    if attempt > 1 then
        info = info .. " (attempt " .. attempt .. ")"
    end
    if not good then
        info = info .. " [CRC mismatch]"
    end
    pinfo.cols.info = info
    return tvb:len()
end

udplab.dissector = dissect
udplab:register_heuristic("udp", function(tvb, pinfo, tree)
    if not is_udplab(tvb) then
        return false
    end
    dissect(tvb, pinfo, tree)
    return true
end)

-- The fate, from the frame's comment: "laptop->board #3 seq=3: LOST, random loss (20%)".
local fate_proto = Proto("udplab_fate", "udplab: what the network did")
local ff = {
    link = ProtoField.string("udplab_fate.link", "Link"),
    index = ProtoField.uint32("udplab_fate.index", "Datagram on the link"),
    fate = ProtoField.string("udplab_fate.fate", "Fate"),
    flags = ProtoField.string("udplab_fate.flags", "Also"),
    story = ProtoField.string("udplab_fate.story", "What happened"),
}
fate_proto.fields = { ff.link, ff.index, ff.fate, ff.flags, ff.story }
local comment_field = Field.new("frame.comment")

-- (fate, flags) of one comment's story (the text after "LINK #N ...: ").
local function classify(story)
    local fate
    if story:find("^LOST") then
        fate = "lost"
    elseif story:find("^sent") then
        fate = "offered"
    elseif story:find("^duplicate of") then
        fate = "duplicate"
    elseif story:find("arrived") then
        fate = "arrived"
    else
        fate = "other"
    end
    local flags = {}
    if story:find("REORDERED") or story:find("overtook") or story:find("held back") then
        flags[#flags + 1] = "reordered"
    end
    if story:find("DUPLICATED") then
        flags[#flags + 1] = "duplicated"
    end
    if story:find("CORRUPTED") or story:find("corrupted") then
        flags[#flags + 1] = "corrupted"
    end
    if story:find("checksum left wrong") then
        flags[#flags + 1] = "bad UDP checksum"
    end
    return fate, table.concat(flags, ", ")
end

function fate_proto.dissector(tvb, pinfo, tree)
    local c = comment_field()
    if c == nil then
        return
    end
    local comment = tostring(c.value)
    local link, index, story = comment:match("^(%S+) #(%d+) [^:]*: (.*)$")
    if link == nil then
        return
    end
    local fate, flags = classify(story)
    local t = tree:add(fate_proto, tvb(0, 0))
    t:add(ff.link, link)
    t:add(ff.index, tonumber(index))
    t:add(ff.fate, fate)
    if flags ~= "" then
        t:add(ff.flags, flags)
    end
    t:add(ff.story, story)
    t:append_text(": " .. fate .. (flags ~= "" and (" (" .. flags .. ")") or ""))
    -- Offered and arrived copies of one datagram have the same addresses and bytes: the Info
    -- column says which is which, and what happened.
    local head = fate == "lost" and "LOST" or fate
    if flags ~= "" then
        head = head .. ", " .. flags
    end
    pinfo.cols.info:prepend("[" .. link .. " #" .. index .. " " .. head .. "] ")
end

register_postdissector(fate_proto)

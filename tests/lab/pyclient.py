#!/usr/bin/python3
"""pyclient.py: PyKMIP's own client as a second, independent KMIP client.

Run with /usr/bin/python3 (needs Debian's python3-pykmip). Prints one JSON
object on stdout. Exit 0 on success; 1 when the server answered with a
failure ({"ok": false, "status", "reason", "message"}); 2 on a connection,
TLS or usage error ({"ok": false, "error": ...}).

Common options (before the verb):
  --host H --port P --cert C --key K --ca CA [--key-password-file F]
  --version 1.0|1.1|1.2|1.3|1.4|2.0 (default 1.2) [--timeout SEC]
  or --lab DIR: take host/port/cert/key/ca from a pykmip-server.sh DIR
  (DIR/port, DIR/server.args) with client certificate NAME from --client
  (default "client").

Verbs:
  create [--name N | --name-hex HEX] [--length 256] [--group G] [--usage LIST]
         [--policy P] [--count N] [--activate]
         (--count: N keys over one connection, "uids" lists them; --activate:
         each made Active)
  register-secret --hex HEX [--name N | --name-hex HEX] [--group G]
                  [--usage LIST] [--policy P] [--data-type password|seed]
  register-key --hex HEX [--name N | --name-hex HEX] [--group G]
                  [--usage LIST] [--policy P]   (an AES key with known bytes)
  get UID [--wrap-uid KEK_UID]       type, algorithm, length, format, hex
  get-state UID
  get-attributes UID [NAME...]
  activate UID
  revoke UID --reason compromise|cessation|superseded|unspecified|
                      ca-compromise|affiliation-changed|privilege-withdrawn
         [--message TEXT]
  destroy UID
  locate [--name N] [--group G] [--state S] [--type T] [--max N]
  encrypt UID --hex HEX [--iv HEX]   AES-CBC, PKCS5 padding
  decrypt UID --hex HEX --iv HEX
  discover-versions
  query                              operations the server lists ("operations")
  rekey UID [--offset SEC] [--name N]   KMIP Re-key -> "uid" of the replacement

--name-hex gives the Name as the hex of its UTF-8 bytes, so that any text
(control characters included: tests of how clients print hostile names)
gets through the shell and argv unchanged.

--usage takes a comma list of Cryptographic Usage Mask names (encrypt,
decrypt, wrap-key, unwrap-key, derive-key, export, ...). Defaults:
create/register-key encrypt,decrypt; register-secret derive-key.

What PyKMIP's high-level ProxyKmipClient (kmip.pie.client) cannot do, and
how this tool does it instead (with PyKMIP's own lower layer, KMIPProxy):
  - Object Group on create/register: not supported by ProxyKmipClient
    (it only sends name, usage mask, operation policy) -> the request is
    built with KMIPProxy.create/register and an explicit Object Group
    attribute.
  - Discover Versions: not in ProxyKmipClient -> KMIPProxy.discover_versions.
  - client key with a password: ProxyKmipClient uses ssl.wrap_socket, which
    has no password argument -> the TLS socket is made with an SSLContext.
  - timeout: not a ProxyKmipClient argument -> set on the KMIPProxy.
  - Re-key with a Name: ProxyKmipClient.rekey takes dates only ->
    KMIPProxy.rekey with a Template-Attribute.
  - Query: not in ProxyKmipClient -> KMIPProxy.query.
  - Link attributes: PyKMIP cannot decode them (its factory raises
    NotImplementedError on a Get Attributes answer that has one) -> the
    Link codec of pykmip-changed.py is installed; get-attributes prints a
    Link as {"type": "REPLACEMENT_OBJECT_LINK", "uid": ...}.
"""

import argparse
import binascii
import importlib.util
import json
import os
import socket
import ssl
import sys

import logging
import warnings
warnings.filterwarnings("ignore")
# PyKMIP logs warnings (e.g. "Config file ... not found") with no handler set:
# keep stderr clean, everything worth knowing ends up in the JSON.
logging.getLogger("kmip").addHandler(logging.NullHandler())

from kmip import enums                                      # noqa: E402
from kmip.core import objects as cobjects                   # noqa: E402
from kmip.pie import client as pie_client                   # noqa: E402
from kmip.pie import exceptions as pie_exc                  # noqa: E402
from kmip.pie import objects as pobjects                    # noqa: E402


def load_changed():
    """tests/lab/pykmip-changed.py as a module (its name has a dash)."""
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        "pykmip_changed", os.path.join(here, "pykmip-changed.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CHANGED = load_changed()
CHANGED.install_link_codec()


VERSIONS = {
    "1.0": enums.KMIPVersion.KMIP_1_0, "1.1": enums.KMIPVersion.KMIP_1_1,
    "1.2": enums.KMIPVersion.KMIP_1_2, "1.3": enums.KMIPVersion.KMIP_1_3,
    "1.4": enums.KMIPVersion.KMIP_1_4, "2.0": enums.KMIPVersion.KMIP_2_0,
}

REASONS = {
    "unspecified": enums.RevocationReasonCode.UNSPECIFIED,
    "compromise": enums.RevocationReasonCode.KEY_COMPROMISE,
    "key-compromise": enums.RevocationReasonCode.KEY_COMPROMISE,
    "ca-compromise": enums.RevocationReasonCode.CA_COMPROMISE,
    "affiliation-changed": enums.RevocationReasonCode.AFFILIATION_CHANGED,
    "superseded": enums.RevocationReasonCode.SUPERSEDED,
    "cessation": enums.RevocationReasonCode.CESSATION_OF_OPERATION,
    "privilege-withdrawn": enums.RevocationReasonCode.PRIVILEGE_WITHDRAWN,
}


class Failure(Exception):
    pass


def enum_name(v):
    return v.name if hasattr(v, "name") else v


def parse_enum(enum_cls, text):
    key = text.strip().upper().replace("-", "_").replace(" ", "_")
    try:
        return enum_cls[key]
    except KeyError:
        raise Failure("unknown %s %r (one of: %s)" % (
            enum_cls.__name__, text,
            ", ".join(m.name.lower().replace("_", "-") for m in enum_cls)))


def parse_usage(text):
    return [parse_enum(enums.CryptographicUsageMask, u)
            for u in text.split(",") if u.strip()]


def unhex(text):
    try:
        return binascii.unhexlify(text.replace(":", "").replace(" ", ""))
    except (binascii.Error, ValueError):
        raise Failure("not hex: %r" % text)


def jsonable(v):
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if hasattr(v, "name") and hasattr(v, "value"):   # enum
        return v.name
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if hasattr(v, "value"):                          # primitives
        return jsonable(v.value)
    return str(v)


# ------------------------------------------------------------- connection
def make_client(a):
    c = pie_client.ProxyKmipClient(
        hostname=a.host, port=a.port, cert=a.cert, key=a.key, ca=a.ca,
        # /dev/null: read no pykmip.conf from ~/.pykmip or /etc/pykmip, so
        # that nothing on the machine changes how this client behaves.
        config_file=os.devnull,
        kmip_version=VERSIONS[a.version])
    proxy = c.proxy
    proxy.timeout = a.timeout
    if a.key_password_file:
        with open(a.key_password_file, "rb") as f:
            password = f.read().rstrip(b"\r\n")

        def create_socket(sock, proxy=proxy):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(a.ca)
            ctx.load_cert_chain(a.cert, a.key, password=password)
            proxy.socket = ctx.wrap_socket(sock)
            proxy.socket.settimeout(proxy.timeout)
        proxy._create_socket = create_socket
    return c


def check(result):
    """Result of a KMIPProxy (lower layer) call -> raise on failure."""
    if result.result_status.value != enums.ResultStatus.SUCCESS:
        raise pie_exc.KmipOperationFailure(
            result.result_status.value,
            result.result_reason.value if result.result_reason else None,
            result.result_message.value if result.result_message else "")
    return result


def template(c, *pairs):
    af = c.attribute_factory
    return cobjects.TemplateAttribute(attributes=[
        af.create_attribute(t, v) for t, v in pairs if v is not None])


# ------------------------------------------------------------- verbs
def v_create(c, a):
    if a.count < 1:
        raise SystemExit("create: --count must be 1 or more")
    uids = []
    for _ in range(a.count):
        r = create_one(c, a)
        if a.activate:
            c.activate(r["uid"])
        uids.append(r["uid"])
    r["uid"], r["uids"] = uids[0], uids
    return r


def create_one(c, a):
    usage = parse_usage(a.usage or "encrypt,decrypt")
    if not a.group:
        uid = c.create(enums.CryptographicAlgorithm.AES, a.length,
                       name=a.name, cryptographic_usage_mask=usage,
                       operation_policy_name=a.policy)
        return {"uid": uid, "via": "ProxyKmipClient.create"}
    t = template(
        c,
        (enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM,
         enums.CryptographicAlgorithm.AES),
        (enums.AttributeType.CRYPTOGRAPHIC_LENGTH, a.length),
        (enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK, usage),
        (enums.AttributeType.NAME, a.name),
        (enums.AttributeType.OPERATION_POLICY_NAME, a.policy),
        (enums.AttributeType.OBJECT_GROUP, a.group))
    r = check(c.proxy.create(enums.ObjectType.SYMMETRIC_KEY, t))
    return {"uid": r.uuid, "via": "KMIPProxy.create"}


def register(c, a, obj, usage):
    if a.policy:
        obj.operation_policy_name = a.policy
    if not a.group:
        return {"uid": c.register(obj), "via": "ProxyKmipClient.register"}
    t = template(
        c,
        (enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK, usage),
        (enums.AttributeType.NAME, a.name),
        (enums.AttributeType.OPERATION_POLICY_NAME, a.policy),
        (enums.AttributeType.OBJECT_GROUP, a.group))
    secret = c.object_factory.convert(obj)
    r = check(c.proxy.register(obj.object_type, t, secret))
    return {"uid": r.uuid, "via": "KMIPProxy.register"}


def v_register_secret(c, a):
    usage = parse_usage(a.usage or "derive-key")
    dtype = parse_enum(enums.SecretDataType, a.data_type)
    obj = pobjects.SecretData(unhex(a.hex), dtype, masks=usage, name=a.name)
    if not a.name:
        obj.names = []
    return register(c, a, obj, usage)


def v_register_key(c, a):
    usage = parse_usage(a.usage or "encrypt,decrypt")
    value = unhex(a.hex)
    obj = pobjects.SymmetricKey(enums.CryptographicAlgorithm.AES,
                                len(value) * 8, value, masks=usage,
                                name=a.name)
    if not a.name:
        obj.names = []
    return register(c, a, obj, usage)


def v_get(c, a):
    spec = None
    if a.wrap_uid:
        spec = {
            "wrapping_method": enums.WrappingMethod.ENCRYPT,
            "encryption_key_information": {
                "unique_identifier": a.wrap_uid,
                "cryptographic_parameters": {
                    "block_cipher_mode": enums.BlockCipherMode.NIST_KEY_WRAP},
            },
            "encoding_option": enums.EncodingOption.NO_ENCODING,
        }
    obj = c.get(a.uid, key_wrapping_specification=spec)
    out = {"uid": a.uid, "type": enum_name(obj.object_type)}
    if isinstance(obj, pobjects.SecretData):
        out["data_type"] = enum_name(obj.data_type)
        out["length"] = len(obj.value) * 8
        out["hex"] = obj.value.hex()
    elif isinstance(obj, pobjects.Key):
        out["algorithm"] = enum_name(obj.cryptographic_algorithm)
        out["length"] = obj.cryptographic_length
        out["format"] = enum_name(obj.key_format_type)
        out["hex"] = obj.value.hex()
        if getattr(obj, "key_wrapping_data", None):
            out["wrapped"] = True
    else:
        out["hex"] = getattr(obj, "value", b"").hex()
    # (no names: Get does not return them, PyKMIP fills in a default name)
    return out


def v_get_attributes(c, a):
    uid, attrs = c.get_attributes(a.uid, a.names or None)
    out = {}
    for at in attrs:
        name = at.attribute_name.value
        v = at.attribute_value
        if hasattr(v, "name_value"):                # Name structure
            val = v.name_value.value
        elif isinstance(v, CHANGED.LinkValue):
            val = {"type": enum_name(v.link_type), "uid": v.linked}
        else:
            val = jsonable(v)
        if name in out:
            if not isinstance(out[name], list):
                out[name] = [out[name]]
            out[name].append(val)
        else:
            out[name] = val
    return {"uid": uid, "attributes": out}


def v_get_state(c, a):
    uid, attrs = c.get_attributes(a.uid, ["State"])
    for at in attrs:
        if at.attribute_name.value == "State":
            return {"uid": uid, "state": enum_name(at.attribute_value.value)}
    raise Failure("server returned no State attribute")


def v_activate(c, a):
    c.activate(a.uid)
    return {"uid": a.uid}


def v_revoke(c, a):
    if a.reason not in REASONS:
        raise Failure("unknown reason %r (one of: %s)" %
                      (a.reason, ", ".join(sorted(REASONS))))
    c.revoke(REASONS[a.reason], a.uid, revocation_message=a.message)
    return {"uid": a.uid, "reason": REASONS[a.reason].name}


def v_destroy(c, a):
    c.destroy(a.uid)
    return {"uid": a.uid}


def v_locate(c, a):
    af = c.attribute_factory
    attrs = []
    if a.name:
        attrs.append(af.create_attribute(enums.AttributeType.NAME, a.name))
    if a.group:
        attrs.append(af.create_attribute(enums.AttributeType.OBJECT_GROUP,
                                         a.group))
    if a.state:
        attrs.append(af.create_attribute(enums.AttributeType.STATE,
                                         parse_enum(enums.State, a.state)))
    if a.type:
        attrs.append(af.create_attribute(
            enums.AttributeType.OBJECT_TYPE,
            parse_enum(enums.ObjectType, a.type)))
    uids = c.locate(maximum_items=a.max, attributes=attrs or None)
    return {"uids": list(uids)}


def cbc_params():
    return {"block_cipher_mode": enums.BlockCipherMode.CBC,
            "padding_method": enums.PaddingMethod.PKCS5,
            "cryptographic_algorithm": enums.CryptographicAlgorithm.AES}


def v_encrypt(c, a):
    params = cbc_params()
    data, iv = c.encrypt(unhex(a.hex), uid=a.uid,
                         cryptographic_parameters=params,
                         iv_counter_nonce=unhex(a.iv) if a.iv else None)
    return {"uid": a.uid, "hex": data.hex(),
            "iv": (iv.hex() if iv else (a.iv or None))}


def v_decrypt(c, a):
    data = c.decrypt(unhex(a.hex), uid=a.uid,
                     cryptographic_parameters=cbc_params(),
                     iv_counter_nonce=unhex(a.iv))
    return {"uid": a.uid, "hex": data.hex()}


def v_discover_versions(c, a):
    r = check(c.proxy.discover_versions())
    return {"versions": ["%d.%d" % (v.major, v.minor)
                         for v in (r.protocol_versions or [])]}


def v_query(c, a):
    r = check(c.proxy.query(query_functions=[enums.QueryFunction.QUERY_OPERATIONS]))
    return {"operations": [enum_name(o) for o in (r.operations or [])]}


def v_rekey(c, a):
    if not a.name:
        return {"uid": c.rekey(uid=a.uid, offset=a.offset), "old": a.uid}
    t = template(c, (enums.AttributeType.NAME, a.name))
    r = c.proxy.rekey(uuid=a.uid, offset=a.offset, template_attribute=t)
    if r["result_status"] != enums.ResultStatus.SUCCESS:
        raise pie_exc.KmipOperationFailure(r["result_status"], r["result_reason"],
                                           r["result_message"])
    return {"uid": r["unique_identifier"], "old": a.uid}


VERBS = {
    "create": v_create, "register-secret": v_register_secret,
    "register-key": v_register_key, "get": v_get, "get-state": v_get_state,
    "get-attributes": v_get_attributes, "activate": v_activate,
    "revoke": v_revoke, "destroy": v_destroy, "locate": v_locate,
    "encrypt": v_encrypt, "decrypt": v_decrypt,
    "discover-versions": v_discover_versions, "query": v_query, "rekey": v_rekey,
}


def build_parser():
    p = argparse.ArgumentParser(
        description="PyKMIP ProxyKmipClient as a CLI; prints JSON.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--ca")
    p.add_argument("--key-password-file")
    p.add_argument("--version", default="1.2", choices=sorted(VERSIONS))
    p.add_argument("--timeout", type=int, default=10)
    p.add_argument("--lab", metavar="DIR",
                   help="pykmip-server.sh state directory")
    p.add_argument("--client", default="client",
                   help="client certificate name in the lab's certs")
    sub = p.add_subparsers(dest="verb", required=True)

    q = sub.add_parser("create")
    q.add_argument("--name")
    q.add_argument("--name-hex")
    q.add_argument("--length", type=int, default=256)
    q.add_argument("--group")
    q.add_argument("--usage")
    q.add_argument("--policy")
    q.add_argument("--count", type=int, default=1)
    q.add_argument("--activate", action="store_true")

    for verb in ("register-secret", "register-key"):
        q = sub.add_parser(verb)
        q.add_argument("--hex", required=True)
        q.add_argument("--name")
        q.add_argument("--name-hex")
        q.add_argument("--group")
        q.add_argument("--usage")
        q.add_argument("--policy")
        if verb == "register-secret":
            q.add_argument("--data-type", default="password",
                           choices=["password", "seed"])

    q = sub.add_parser("get")
    q.add_argument("uid")
    q.add_argument("--wrap-uid")

    for verb in ("get-state", "activate", "destroy"):
        sub.add_parser(verb).add_argument("uid")

    q = sub.add_parser("get-attributes")
    q.add_argument("uid")
    q.add_argument("names", nargs="*")

    q = sub.add_parser("revoke")
    q.add_argument("uid")
    q.add_argument("--reason", required=True)
    q.add_argument("--message")

    q = sub.add_parser("locate")
    q.add_argument("--name")
    q.add_argument("--group")
    q.add_argument("--state")
    q.add_argument("--type")
    q.add_argument("--max", type=int)

    q = sub.add_parser("encrypt")
    q.add_argument("uid")
    q.add_argument("--hex", required=True)
    q.add_argument("--iv")

    q = sub.add_parser("decrypt")
    q.add_argument("uid")
    q.add_argument("--hex", required=True)
    q.add_argument("--iv", required=True)

    sub.add_parser("discover-versions")
    sub.add_parser("query")

    q = sub.add_parser("rekey")
    q.add_argument("uid")
    q.add_argument("--offset", type=int)
    q.add_argument("--name")
    return p


def apply_lab(a):
    d = os.path.abspath(a.lab)
    args = {}
    with open(os.path.join(d, "server.args")) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            args[k] = v.strip("'")
    certs = args.get("CERTS") or os.path.join(d, "certs")
    if a.port is None:
        with open(os.path.join(d, "port")) as f:
            a.port = int(f.read().strip())
    if args.get("HOST") and a.host == "127.0.0.1":
        a.host = args["HOST"]
    name = a.client
    a.cert = a.cert or os.path.join(certs, name + ".crt")
    a.key = a.key or os.path.join(certs, name + ".key")
    a.ca = a.ca or os.path.join(certs, "ca.crt")
    if not a.key_password_file and \
            os.path.exists(os.path.join(certs, name + ".pass")):
        a.key_password_file = os.path.join(certs, name + ".pass")


def emit(obj, code):
    print(json.dumps(obj, sort_keys=True))
    return code


def main():
    a = build_parser().parse_args()
    try:
        if a.lab:
            apply_lab(a)
        if getattr(a, "name_hex", None):
            if a.name:
                raise Failure("--name and --name-hex exclude each other")
            try:
                a.name = unhex(a.name_hex).decode("utf-8")
            except UnicodeDecodeError as e:
                raise Failure("--name-hex is not UTF-8: %s" % e)
        missing = [o for o in ("port", "cert", "key", "ca")
                   if getattr(a, o) is None]
        if missing:
            raise Failure("missing --" + ", --".join(missing))
        c = make_client(a)
        c.open()
    except (Failure, OSError, ssl.SSLError, ValueError) as e:
        return emit({"ok": False, "error": "%s: %s" % (type(e).__name__, e)},
                    2)
    try:
        out = VERBS[a.verb](c, a)
        out["ok"] = True
    except pie_exc.KmipOperationFailure as e:
        return emit({"ok": False, "status": enum_name(e.status),
                     "reason": enum_name(e.reason),
                     "message": e.message}, 1)
    except Failure as e:
        return emit({"ok": False, "error": str(e)}, 2)
    except (OSError, ssl.SSLError, socket.timeout) as e:
        return emit({"ok": False, "error": "%s: %s" % (type(e).__name__, e)},
                    2)
    except Exception as e:   # PyKMIP raises assorted things on bad replies
        return emit({"ok": False, "error": "%s: %s" % (type(e).__name__, e)},
                    2)
    finally:
        try:
            c.close()
        except Exception:
            pass
    return emit(out, 0)


if __name__ == "__main__":
    sys.exit(main())

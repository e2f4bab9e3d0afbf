#!/usr/bin/python3
"""PyKMIP's own server (the same code /usr/bin/pykmip-server runs), changed in
one way for tests, chosen by the environment variable PYKMIP_CHANGE:

  batch-one        of a request's batch items it processes and answers the
                   first only, as a server without batch support that still
                   answers does;
  batch-refuse     a request of more than one batch item is refused as a
                   whole (Invalid Message), as a server that does not take
                   batches does;
  locate-no-state  Locate ignores a State in its attributes (the other
                   filters apply), as servers that ignore a Locate filter
                   do (KMIP-NOTES.md: Cosmian KMS #824, #935);
  locate-slow      every Locate answers after LOCATE_SLOW_S seconds, as
                   PyKMIP's own does when it holds many objects and serves
                   many clients (bench/results/fleet-2026-12-05.md: 5 s and
                   more with 500 objects and 50 hosts);
  link             the Link attribute, which PyKMIP 0.10 neither stores nor
                   encodes: kept in a table of its own in the server's
                   database, added by Add Attribute (which PyKMIP cannot even
                   parse: unchanged, it answers Invalid Message), returned by
                   Get Attributes (1.x and 2.0 encodings), dropped with its
                   object by Destroy (the links to it too: PyKMIP deletes a
                   destroyed object); Query lists Add Attribute.  Only Link
                   can be added;
  rekey            link, and the Re-key operation (KMIP 1.4 section 4.4,
                   2.1 section 6.1.46; unchanged, PyKMIP parses the request
                   and answers Operation Not Supported), on PyKMIP's own
                   engine, objects and database; Query lists Re-key.

Re-key here, against the specification:
  - Symmetric Keys only (Invalid Field otherwise, as PyKMIP's Create);
    the old key as the default policy allows its owner (Operation REKEY).
  - The replacement: new key material of the old key's algorithm and length
    from PyKMIP's cryptography engine; the old key's usage mask, Operation
    Policy Name, Sensitive, Object Groups and Application Specific
    Information copied; its Names moved (the old key keeps none); then the
    request's Template-Attribute (1.x) or Attributes (2.0, which PyKMIP's
    Re-key payload cannot read: this reads it) applied as Create applies
    them (a Name added, an Object Group added; a different algorithm,
    length or usage mask refused); Initial Date now (and later than the old
    key's, as the spec wants: IT2 > IT1); owner the requester.
  - Links: the old key gets Replacement Object Link -> new, the new key
    Replaced Object Link -> old.  A key that has a replacement already is
    not re-keyed again (Illegal Operation: the spec allows one replacement).
  - Dates and State: PyKMIP keeps no Activation, Process Start, Protect Stop
    or Deactivation Date, and activates nothing by date.  So: an old key
    that was never activated (Pre-Active) has no Activation Date to copy or
    to offset: its replacement is Pre-Active.  Otherwise, without Offset
    the (past) Activation Date is copied and the replacement is Active; with
    Offset 0 it is activated at its Initial Date, now: Active; with an
    Offset > 0 its Activation Date lies ahead: Pre-Active (until an
    Activate, since nothing here activates by date).  No Deactivation Date
    is copied (PyKMIP keeps none), so a Deactivated or Compromised key's
    replacement is Active too.  Usage Limits, Digest, Random Number
    Generator, Last Change Date: PyKMIP keeps none.
  - The ID Placeholder is set to the replacement, as the spec says.

Started by pykmip-server.sh start --change MODE.  tests/lab/pyclient.py
loads this file for LinkValue and install_link_codec() (PyKMIP's client
cannot decode a Link either).
"""
import os
import sys
import time

from kmip.core import enums
from kmip.core import exceptions
from kmip.core import objects as cobjects
from kmip.core import primitives
from kmip.core import utils
from kmip.core.factories import attribute_values
from kmip.core.factories.payloads import request as request_factory
from kmip.core.messages import payloads
from kmip.pie import objects as pobjects
from kmip.pie import sqltypes

MODES = ("batch-one", "batch-refuse", "locate-no-state", "locate-slow", "link", "rekey")
MODE = os.environ.get("PYKMIP_CHANGE", "")
# PyKMIP's own engine methods, kept by change() before it replaces them.  The
# server modules are imported there, not here: pyclient.py loads this file
# for the Link codec alone, and they cost it a tenth of a second a call.
engine = None
_process_batch = _process_locate = _process_operation = None
_process_query = _process_destroy = _get_attributes_from_managed_object = None


def changed_batch(self, request_batch, batch_handling, batch_order):
    if MODE == "batch-refuse" and len(request_batch) > 1:
        raise exceptions.InvalidMessage("Batches are not supported by this server.")
    return _process_batch(self, request_batch[:1], batch_handling, batch_order)


LOCATE_SLOW_S = 4


def locate_slowly(self, payload):
    time.sleep(LOCATE_SLOW_S)
    return _process_locate(self, payload)


def attribute_name(a):
    name = getattr(a, "attribute_name", None)
    return getattr(name, "value", name)


def locate_without_state(self, payload):
    attrs = getattr(payload, "attributes", None)
    if attrs:
        payload.attributes = [a for a in attrs if attribute_name(a) != "State"]
    return _process_locate(self, payload)


# ------------------------------------------------------------------ Link

class LinkValue(primitives.Struct):
    """The value of a Link attribute: {Link Type, Linked Object Identifier}.
    PyKMIP 0.10 has no class for it (its factories raise NotImplementedError)."""

    def __init__(self, link_type=None, linked=None, tag=enums.Tags.LINK):
        super(LinkValue, self).__init__(tag)
        self.link_type = link_type
        self.linked = linked

    def read(self, istream, kmip_version=enums.KMIPVersion.KMIP_1_0):
        super(LinkValue, self).read(istream, kmip_version=kmip_version)
        body = utils.BytearrayStream(istream.read(self.length))
        t = primitives.Enumeration(enums.LinkType, tag=enums.Tags.LINK_TYPE)
        t.read(body, kmip_version=kmip_version)
        u = primitives.TextString(tag=enums.Tags.LINKED_OBJECT_IDENTIFIER)
        u.read(body, kmip_version=kmip_version)
        self.link_type, self.linked = t.value, u.value
        self.is_oversized(body)

    def write(self, ostream, kmip_version=enums.KMIPVersion.KMIP_1_0):
        body = utils.BytearrayStream()
        primitives.Enumeration(enums.LinkType, self.link_type,
                               tag=enums.Tags.LINK_TYPE).write(body, kmip_version=kmip_version)
        primitives.TextString(self.linked, tag=enums.Tags.LINKED_OBJECT_IDENTIFIER).write(
            body, kmip_version=kmip_version)
        self.length = body.length()
        super(LinkValue, self).write(ostream, kmip_version=kmip_version)
        ostream.write(body.buffer)


def install_link_codec():
    """Let PyKMIP's attribute factories read (and make) Link values."""
    by_name = attribute_values.AttributeValueFactory.create_attribute_value
    by_enum = attribute_values.AttributeValueFactory.create_attribute_value_by_enum

    def create_attribute_value(self, name, value):
        if name is enums.AttributeType.LINK:
            return LinkValue(*(value or (None, None)))
        return by_name(self, name, value)

    def create_attribute_value_by_enum(self, enum, value):
        if enum is enums.Tags.LINK:
            return LinkValue(*(value or (None, None)))
        return by_enum(self, enum, value)

    attribute_values.AttributeValueFactory.create_attribute_value = create_attribute_value
    attribute_values.AttributeValueFactory.create_attribute_value_by_enum = \
        create_attribute_value_by_enum


ObjectLink = None      # the table, made by install_links()


def install_links_table():
    """A table of Links beside PyKMIP's own, in the same database (created
    with them by the engine's create_all)."""
    global ObjectLink
    from sqlalchemy import Column, Integer, String

    class _ObjectLink(sqltypes.Base):
        __tablename__ = "kmipcrypt_test_links"
        id = Column(Integer, primary_key=True)
        uid = Column(Integer, index=True)       # the object that has the link
        link_type = Column(Integer)
        linked = Column(String(255))
    ObjectLink = _ObjectLink


def links_of(self, uid):
    return self._data_session.query(ObjectLink).filter(
        ObjectLink.uid == int(uid)).order_by(ObjectLink.id).all()


def add_link(self, uid, link_type, linked):
    if link_type == enums.LinkType.REPLACEMENT_OBJECT_LINK:
        for row in links_of(self, uid):
            if row.link_type == link_type.value:
                raise exceptions.InvalidField(
                    "Object {0} has a replacement already: {1}.".format(uid, row.linked))
    self._data_session.add(ObjectLink(uid=int(uid), link_type=link_type.value, linked=linked))
    return len(links_of(self, uid)) - 1


def link_attribute(index, link_type, linked):
    return cobjects.Attribute(
        attribute_name=cobjects.Attribute.AttributeName("Link"),
        attribute_index=cobjects.Attribute.AttributeIndex(index) if index else None,
        attribute_value=LinkValue(link_type, linked))


def attributes_with_links(self, managed_object, attr_names):
    attrs = _get_attributes_from_managed_object(self, managed_object, attr_names)
    if attr_names and "Link" not in attr_names:
        return attrs
    for i, row in enumerate(links_of(self, managed_object.unique_identifier)):
        attrs.append(link_attribute(i, enums.LinkType(row.link_type), row.linked))
    return attrs


def ttlv_children(buf):
    """(tag, type, value bytes) of the items in buf; a length past the end
    is an encoding error (PyKMIP answers those with Invalid Message)."""
    off = 0
    while off < len(buf):
        if off + 8 > len(buf):
            raise exceptions.InvalidKmipEncoding("truncated item")
        tag = int.from_bytes(buf[off:off + 3], "big")
        typ, ln = buf[off + 3], int.from_bytes(buf[off + 4:off + 8], "big")
        if off + 8 + ln > len(buf):
            raise exceptions.InvalidKmipEncoding("item longer than its parent")
        yield tag, typ, bytes(buf[off + 8:off + 8 + ln])
        off += 8 + (ln + 7) // 8 * 8


def read_link(buf):
    link_type = linked = None
    for tag, typ, v in ttlv_children(buf):
        if tag == enums.Tags.LINK_TYPE.value and typ == 0x05 and len(v) == 4:
            link_type = enums.LinkType(int.from_bytes(v, "big"))
        elif tag == enums.Tags.LINKED_OBJECT_IDENTIFIER.value and typ == 0x07:
            linked = v.decode("utf-8")
    if link_type is None or not linked:
        raise exceptions.InvalidKmipEncoding("a Link needs a Link Type and an identifier")
    return link_type, linked


class AddAttributeRequestPayload(payloads.base.RequestPayload):
    """Add Attribute: 1.x {Unique Identifier, Attribute}, 2.0 {Unique
    Identifier, New Attribute}.  Reads a Link; any other attribute is kept
    by name only, for the engine to refuse."""

    def __init__(self):
        super(AddAttributeRequestPayload, self).__init__()
        self.unique_identifier = None
        self.name = None
        self.index_given = False
        self.link = None

    def read(self, istream, kmip_version=enums.KMIPVersion.KMIP_1_0):
        super(AddAttributeRequestPayload, self).read(istream, kmip_version=kmip_version)
        body = istream.read(self.length)
        for tag, typ, v in ttlv_children(body):
            if tag == enums.Tags.UNIQUE_IDENTIFIER.value and typ == 0x07:
                self.unique_identifier = v.decode("utf-8")
            elif tag == enums.Tags.ATTRIBUTE.value:
                for t2, ty2, v2 in ttlv_children(v):
                    if t2 == enums.Tags.ATTRIBUTE_NAME.value:
                        self.name = v2.decode("utf-8")
                    elif t2 == enums.Tags.ATTRIBUTE_INDEX.value:
                        self.index_given = True
                    elif t2 == enums.Tags.ATTRIBUTE_VALUE.value and self.name == "Link":
                        self.link = read_link(v2)
            elif tag == enums.Tags.NEW_ATTRIBUTE.value:
                for t2, ty2, v2 in ttlv_children(v):
                    self.name = "Link" if t2 == enums.Tags.LINK.value else hex(t2)
                    if self.name == "Link":
                        self.link = read_link(v2)
                    break
        if self.name is None:
            raise exceptions.InvalidKmipEncoding("Add Attribute without an attribute")


class AddAttributeResponsePayload(payloads.base.ResponsePayload):
    def __init__(self, unique_identifier, index, link):
        super(AddAttributeResponsePayload, self).__init__()
        self.unique_identifier, self.index, self.link = unique_identifier, index, link

    def write(self, ostream, kmip_version=enums.KMIPVersion.KMIP_1_0):
        body = utils.BytearrayStream()
        primitives.TextString(self.unique_identifier, tag=enums.Tags.UNIQUE_IDENTIFIER).write(
            body, kmip_version=kmip_version)
        # 1.x answers with the attribute added (and its index); 2.0 with the identifier only.
        if kmip_version < enums.KMIPVersion.KMIP_2_0:
            link_attribute(self.index, *self.link).write(body, kmip_version=kmip_version)
        self.length = body.length()
        super(AddAttributeResponsePayload, self).write(ostream, kmip_version=kmip_version)
        ostream.write(body.buffer)


def process_add_attribute(self, payload):
    self._logger.info("Processing operation: AddAttribute")
    uid = payload.unique_identifier or self._id_placeholder
    managed_object = self._get_object_with_access_controls(uid, enums.Operation.ADD_ATTRIBUTE)
    if payload.name != "Link":
        raise exceptions.InvalidField(
            "Only the Link attribute can be added here, not {0}.".format(payload.name))
    if payload.index_given:
        raise exceptions.InvalidField("Add Attribute takes no Attribute Index.")
    if not self._attribute_policy.is_attribute_applicable_to_object_type(
            "Link", managed_object._object_type):
        raise exceptions.InvalidField("Link does not apply to this object.")
    index = add_link(self, managed_object.unique_identifier, *payload.link)
    self._data_session.commit()
    return AddAttributeResponsePayload(str(managed_object.unique_identifier), index, payload.link)


# ---------------------------------------------------------------- Re-key

class RekeyRequestPayload(payloads.RekeyRequestPayload):
    """PyKMIP's, reading a 2.0 Attributes structure too (as its Create does)."""

    def read(self, istream, kmip_version=enums.KMIPVersion.KMIP_1_0):
        if kmip_version < enums.KMIPVersion.KMIP_2_0:
            return super(RekeyRequestPayload, self).read(istream, kmip_version=kmip_version)
        primitives.Struct.read(self, istream, kmip_version=kmip_version)
        local = utils.BytearrayStream(istream.read(self.length))
        if self.is_tag_next(enums.Tags.UNIQUE_IDENTIFIER, local):
            self._unique_identifier = primitives.TextString(tag=enums.Tags.UNIQUE_IDENTIFIER)
            self._unique_identifier.read(local, kmip_version=kmip_version)
        if self.is_tag_next(enums.Tags.OFFSET, local):
            self._offset = primitives.Interval(tag=enums.Tags.OFFSET)
            self._offset.read(local, kmip_version=kmip_version)
        if self.is_tag_next(enums.Tags.ATTRIBUTES, local):
            attributes = cobjects.Attributes()
            attributes.read(local, kmip_version=kmip_version)
            self._template_attribute = cobjects.convert_attributes_to_template_attribute(
                attributes)
        if self.is_tag_next(enums.Tags.PROTECTION_STORAGE_MASKS, local):
            cobjects.ProtectionStorageMasks(tag=enums.Tags.PROTECTION_STORAGE_MASKS).read(
                local, kmip_version=kmip_version)
        self.is_oversized(local)


def copy_groups_and_info(old, new):
    for g in old.object_groups:
        new.object_groups.append(pobjects.ObjectGroup(object_group=g.object_group))
    for a in old.app_specific_info:
        new.app_specific_info.append(pobjects.ApplicationSpecificInformation(
            application_namespace=a.application_namespace,
            application_data=a.application_data))


def replacement_state(old, offset):
    if old.state == enums.State.PRE_ACTIVE:
        return enums.State.PRE_ACTIVE   # no Activation Date to copy or offset
    if offset:
        return enums.State.PRE_ACTIVE   # activation ahead; nothing activates by date here
    return enums.State.ACTIVE


def process_rekey(self, payload):
    self._logger.info("Processing operation: Rekey")
    uid = payload.unique_identifier or self._id_placeholder
    old = self._get_object_with_access_controls(uid, enums.Operation.REKEY)
    if old._object_type != enums.ObjectType.SYMMETRIC_KEY:
        raise exceptions.InvalidField("Re-key replaces Symmetric Keys only.")
    for row in links_of(self, old.unique_identifier):
        if row.link_type == enums.LinkType.REPLACEMENT_OBJECT_LINK.value:
            raise exceptions.IllegalOperation(
                "Key {0} was re-keyed already: its replacement is {1}.".format(uid, row.linked))
    attributes = {}
    if payload.template_attribute:
        attributes = self._process_template_attribute(payload.template_attribute)

    value = self._cryptography_engine.create_symmetric_key(
        old.cryptographic_algorithm, old.cryptographic_length).get("value")
    new = pobjects.SymmetricKey(old.cryptographic_algorithm, old.cryptographic_length, value,
                                masks=list(old.cryptographic_usage_masks))
    new.names = list(old.names)
    old.names = []
    new.operation_policy_name = old.operation_policy_name
    new.sensitive = old.sensitive
    copy_groups_and_info(old, new)
    self._set_attributes_on_managed_object(new, attributes)
    new._owner = self._client_identity[0]
    new.initial_date = max(int(time.time()), (old.initial_date or 0) + 1)
    new.state = replacement_state(old, payload.offset)
    self._data_session.add(new)
    self._data_session.commit()    # the new key's identifier is made here

    add_link(self, old.unique_identifier, enums.LinkType.REPLACEMENT_OBJECT_LINK,
             str(new.unique_identifier))
    add_link(self, new.unique_identifier, enums.LinkType.REPLACED_OBJECT_LINK,
             str(old.unique_identifier))
    self._data_session.commit()
    self._logger.info("Re-keyed {0}: replacement {1}, {2}".format(
        uid, new.unique_identifier, new.state.name))
    self._id_placeholder = str(new.unique_identifier)
    return payloads.RekeyResponsePayload(unique_identifier=str(new.unique_identifier))


# ---------------------------------------------------------- the changes

def changed_operation(self, operation, payload):
    if operation == enums.Operation.ADD_ATTRIBUTE:
        return process_add_attribute(self, payload)
    if operation == enums.Operation.REKEY and MODE == "rekey":
        return process_rekey(self, payload)
    return _process_operation(self, operation, payload)


def changed_query(self, payload):
    response = _process_query(self, payload)
    if enums.QueryFunction.QUERY_OPERATIONS in (payload.query_functions or []):
        more = [enums.Operation.ADD_ATTRIBUTE]
        if MODE == "rekey":
            more.append(enums.Operation.REKEY)
        response.operations = list(response.operations or []) + more
    return response


def changed_destroy(self, payload):
    """PyKMIP deletes a destroyed object: its links go, and so do the links
    to it (nothing left to point at; a key whose replacement was destroyed
    can be re-keyed again)."""
    uid = payload.unique_identifier.value if payload.unique_identifier else self._id_placeholder
    response = _process_destroy(self, payload)
    self._data_session.query(ObjectLink).filter(
        (ObjectLink.uid == int(uid)) | (ObjectLink.linked == str(uid))).delete()
    self._data_session.commit()
    return response


def change(mode):
    global engine, _process_batch, _process_locate, _process_operation
    global _process_query, _process_destroy, _get_attributes_from_managed_object
    from kmip.services.server import engine
    e = engine.KmipEngine
    _process_batch, _process_locate = e._process_batch, e._process_locate
    _process_operation, _process_query = e._process_operation, e._process_query
    _process_destroy = e._process_destroy
    _get_attributes_from_managed_object = e._get_attributes_from_managed_object
    if mode in ("batch-one", "batch-refuse"):
        engine.KmipEngine._process_batch = changed_batch
    elif mode == "locate-no-state":
        engine.KmipEngine._process_locate = locate_without_state
    elif mode == "locate-slow":
        engine.KmipEngine._process_locate = locate_slowly
    elif mode in ("link", "rekey"):
        install_link_codec()
        install_links_table()
        request_factory.RequestPayloadFactory._create_add_attribute_payload = \
            lambda self: AddAttributeRequestPayload()
        request_factory.RequestPayloadFactory._create_rekey_payload = \
            lambda self: RekeyRequestPayload()
        engine.KmipEngine._process_operation = changed_operation
        engine.KmipEngine._process_query = changed_query
        engine.KmipEngine._process_destroy = changed_destroy
        engine.KmipEngine._get_attributes_from_managed_object = attributes_with_links


if __name__ == '__main__':
    if MODE not in MODES:
        sys.exit("pykmip-changed.py: PYKMIP_CHANGE must be one of " + ", ".join(MODES))
    change(MODE)
    from kmip.services.server import server
    sys.exit(server.main())

//! DNSPod, Tencent Cloud's DNS (service `dnspod`, 2021-03-23), through a client built for it
//! ([`Client::for_service`] with [`Service::DNSPOD`](crate::Service::DNSPOD)): the account's
//! zones, and the TXT records of a host in one — what DNS-01 challenges and validation records
//! need. It asks and reports; which record to publish when is the engine's business.
//!
//! Creating a record is not idempotent: sent twice it makes two records, or — with the same
//! value — is refused as one the zone holds already. So, like the SSL service's writes, it is
//! never sent again after a failure that may have come after the service acted: list the host's
//! records to find what a lost answer did. Listing and deleting are sent again after a transient
//! failure: deleting a record already gone is done.

use crate::wire::dnspod::{
    CreateRecordRequest, CreateRecordResponse, DeleteRecordRequest, DescribeDomainListRequest,
    DescribeDomainListResponse, DescribeRecordListRequest, DescribeRecordListResponse,
};
use crate::{Client, Error};

/// The most zones, or records, one call lists (their `Limit` maximum).
pub const DNS_PAGE_LIMIT: u64 = 3000;

/// DNSPod's name for the default line, on which every resolver is answered.
const DEFAULT_LINE: &str = "默认";
/// No record matches the query: an empty list, not a failure.
const NO_RECORDS: &str = "ResourceNotFound.NoDataOfRecord";
/// No zone matches: reported of `DescribeDomainList` for an account without zones, although
/// the model does not list it for that action. An empty list, not a failure.
const NO_ZONES: &str = "ResourceNotFound.NoDataOfDomain";
/// The zone holds no record with the id: deleted already.
const NO_SUCH_RECORD: &str = "InvalidParameter.RecordIdInvalid";

/// A zone of the account (a DNSPod domain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsZone {
    /// The `DomainId`.
    pub id: u64,
    /// The zone's name, such as `example.com`.
    pub name: String,
}

/// A record of a host, of the type asked for (TXT for DNS-01, CNAME for DNS validation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    /// The `RecordId`.
    pub id: u64,
    pub value: String,
    pub ttl: Option<u64>,
    pub remark: String,
    /// False for a record paused (`Status` DISABLE), which DNS does not serve.
    pub enabled: bool,
}

impl Client {
    /// Lists every zone of the account, page by page.
    pub async fn dns_zones(&self) -> Result<Vec<DnsZone>, Error> {
        const ACTION: &str = "DescribeDomainList";
        let mut zones = Pages::default();
        let mut offset = Some(0);
        while let Some(from) = offset {
            let req = DescribeDomainListRequest { offset: Some(from), limit: Some(DNS_PAGE_LIMIT) };
            let (page, request_id): (DescribeDomainListResponse, _) =
                match self.call_answered(ACTION, &req).await {
                    Err(e) if e.code() == Some(NO_ZONES) => break,
                    answered => answered?,
                };
            let total = page.domain_count_info.and_then(|c| c.domain_total);
            let list = page.domain_list.unwrap_or_default().into_iter();
            let list = list.map(|d| DnsZone { id: d.domain_id, name: d.name }).collect();
            offset = zones
                .add(list, total, "zones")
                .map_err(|e| self.malformed_answer(ACTION, &request_id, e))?;
        }
        Ok(zones.items)
    }

    /// Creates a record of `record_type` (`TXT`, `CNAME`…) of `host` in `zone`
    /// (`_acme-challenge`, `_acme-challenge.www`, `@` for the zone itself) holding `value`, on
    /// the default line, with `ttl` seconds and `remark`; returns its id.
    ///
    /// Not sent again after a failure, which may have come after the record was made: a second
    /// record with the same value is refused (`InvalidParameter.DomainRecordExist`). Look for it
    /// with [`records`](Self::records) first.
    pub async fn create_record(
        &self,
        zone: &str,
        host: &str,
        record_type: &str,
        value: &str,
        ttl: u64,
        remark: &str,
    ) -> Result<u64, Error> {
        const ACTION: &str = "CreateRecord";
        let req = CreateRecordRequest {
            domain: zone.to_owned(),
            sub_domain: host.to_owned(),
            record_type: record_type.to_owned(),
            record_line: DEFAULT_LINE.to_owned(),
            value: value.to_owned(),
            ttl: Some(ttl),
            remark: Some(remark.to_owned()).filter(|r| !r.is_empty()),
        };
        let (resp, request_id): (CreateRecordResponse, _) =
            self.call_answered(ACTION, &req).await?;
        // The record may exist even so: the caller must read this as an answer that proves
        // nothing, as an application's empty id.
        resp.record_id.filter(|id| *id > 0).ok_or_else(|| {
            self.malformed_answer(ACTION, &request_id, "the answer has no RecordId".to_owned())
        })
    }

    /// Lists the records of `record_type` of `host` in `zone`, every page, in the order the
    /// service lists them; a host without any is an empty list.
    pub async fn records(
        &self,
        zone: &str,
        host: &str,
        record_type: &str,
    ) -> Result<Vec<DnsRecord>, Error> {
        const ACTION: &str = "DescribeRecordList";
        let mut records = Pages::default();
        let mut offset = Some(0);
        while let Some(from) = offset {
            let req = DescribeRecordListRequest {
                domain: zone.to_owned(),
                subdomain: Some(host.to_owned()),
                record_type: Some(record_type.to_owned()),
                offset: Some(from),
                limit: Some(DNS_PAGE_LIMIT),
            };
            let (page, request_id): (DescribeRecordListResponse, _) =
                match self.call_answered(ACTION, &req).await {
                    Err(e) if e.code() == Some(NO_RECORDS) => break,
                    answered => answered?,
                };
            let malformed = |detail: String| self.malformed_answer(ACTION, &request_id, detail);
            let mut list = Vec::new();
            for record in page.record_list.unwrap_or_default() {
                // Both filter the call: a record of another host or type was not asked for.
                if !record.name.eq_ignore_ascii_case(host) || record.record_type != record_type {
                    return Err(malformed(format!(
                        "it lists record {} ({} {}), which was not asked for",
                        record.record_id, record.name, record.record_type
                    )));
                }
                list.push(DnsRecord {
                    id: record.record_id,
                    value: record.value,
                    ttl: record.ttl,
                    remark: record.remark.unwrap_or_default(),
                    enabled: record.status.as_deref() != Some("DISABLE"),
                });
            }
            let total = page.record_count_info.and_then(|c| c.total_count);
            offset = records.add(list, total, "records").map_err(malformed)?;
        }
        Ok(records.items)
    }

    /// Deletes record `record_id` of `zone`. A record already gone — deleted by an earlier
    /// attempt whose answer was lost, or by anyone else — is deleted.
    pub async fn delete_dns_record(&self, zone: &str, record_id: u64) -> Result<(), Error> {
        let req = DeleteRecordRequest { domain: zone.to_owned(), record_id };
        match self.call::<_, serde_json::Value>("DeleteRecord", &req).await {
            Err(e) if e.code() == Some(NO_SUCH_RECORD) => Ok(()),
            answered => answered.map(drop),
        }
    }
}

/// A list gathered page by page, until the count the service gives is reached.
#[derive(Debug)]
struct Pages<T> {
    items: Vec<T>,
}

impl<T> Default for Pages<T> {
    fn default() -> Self {
        Pages { items: Vec::new() }
    }
}

impl<T> Pages<T> {
    /// Adds a page of a list the service counts `total` `what` in; returns the offset of the
    /// next page, or `None` when all are in. An answer that does not count, or stops short of
    /// its count, is an error — never read as the end of the list.
    fn add(&mut self, page: Vec<T>, total: Option<u64>, what: &str) -> Result<Option<u64>, String> {
        let Some(total) = total else {
            return Err(format!("the answer does not count its {what}"));
        };
        let added = page.len();
        self.items.extend(page);
        let listed = self.items.len() as u64;
        if listed >= total {
            Ok(None)
        } else if added == 0 {
            Err(format!("it counts {total} {what} but the pages list only {listed}"))
        } else {
            Ok(Some(listed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_followed_until_the_count_is_reached() {
        let mut pages = Pages::default();
        assert_eq!(pages.add(vec![1, 2], Some(3), "records"), Ok(Some(2)));
        assert_eq!(pages.add(vec![3], Some(3), "records"), Ok(None));
        assert_eq!(pages.items, [1, 2, 3]);
        assert_eq!(Pages::<u8>::default().add(Vec::new(), Some(0), "zones"), Ok(None));
    }

    #[test]
    fn pages_that_stop_short_of_the_count_or_do_not_count_are_errors() {
        let mut pages = Pages::default();
        assert_eq!(pages.add(vec![1], Some(4), "zones"), Ok(Some(1)));
        let err = pages.add(Vec::new(), Some(4), "zones").expect_err("no progress");
        assert_eq!(err, "it counts 4 zones but the pages list only 1");
        let err = Pages::default().add(vec![1], None, "records").expect_err("no count");
        assert_eq!(err, "the answer does not count its records");
    }
}

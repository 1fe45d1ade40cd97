-- name: athena_table (DDL, run once by the user in Athena; not a rollup query)
-- engines: athena
-- returns: nothing; creates the standard CloudTrail table with partition projection over
--          account, Region and delivery day, so the rollup's "timestamp" bound prunes partitions
-- parameters: {database}, {table} (identifiers), {location} (s3:// URI of the AWSLogs/ folder,
--          organization id included for organization trails), {accounts}, {regions} (comma lists)
CREATE EXTERNAL TABLE {database}.{table} (
  eventversion STRING,
  useridentity STRUCT<type: STRING, principalid: STRING, arn: STRING, accountid: STRING,
    invokedby: STRING, accesskeyid: STRING, username: STRING, onbehalfof: STRUCT<userid: STRING,
    identitystorearn: STRING>, sessioncontext: STRUCT<attributes: STRUCT<mfaauthenticated: STRING,
    creationdate: STRING>, sessionissuer: STRUCT<type: STRING, principalid: STRING, arn: STRING,
    accountid: STRING, username: STRING>, ec2roledelivery: STRING, webidfederationdata: STRUCT<
    federatedprovider: STRING, attributes: MAP<STRING, STRING>>>>,
  eventtime STRING,
  eventsource STRING,
  eventname STRING,
  awsregion STRING,
  sourceipaddress STRING,
  useragent STRING,
  errorcode STRING,
  errormessage STRING,
  requestparameters STRING,
  responseelements STRING,
  additionaleventdata STRING,
  requestid STRING,
  eventid STRING,
  readonly STRING,
  resources ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
  eventtype STRING,
  apiversion STRING,
  recipientaccountid STRING,
  serviceeventdetails STRING,
  sharedeventid STRING,
  vpcendpointid STRING,
  tlsdetails STRUCT<tlsversion: STRING, ciphersuite: STRING, clientprovidedhostheader: STRING>
)
PARTITIONED BY (account STRING, region STRING, `timestamp` STRING)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '{location}'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.account.type' = 'enum',
  'projection.account.values' = '{accounts}',
  'projection.region.type' = 'enum',
  'projection.region.values' = '{regions}',
  'projection.timestamp.type' = 'date',
  'projection.timestamp.format' = 'yyyy/MM/dd',
  'projection.timestamp.interval' = '1',
  'projection.timestamp.interval.unit' = 'DAYS',
  'projection.timestamp.range' = '{first_day},NOW',
  'storage.location.template' = '{location}${account}/CloudTrail/${region}/${timestamp}'
)

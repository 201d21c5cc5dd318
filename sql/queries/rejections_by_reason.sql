-- Why files were refused, by stage and reason.
select stage, reason, count(*) as files, min(file_name) as example
from rejected
group by stage, reason
order by files desc, stage, reason;
